"""The deployment page's environment variables card: add or update one, delete one, import a .env
file. Everyone who sees the deployment sees the table (never a secret's value); its owners and
operators change it, as its other settings."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from portal.web import errors_as_messages, form_submit

from .. import selectors
from ..forms import VariableForm, VariablesImportForm
from ..models import Deployment
from ..services import variables as variable_services
from .deployments import actor, deployment_context, visible_deployment


def _managed(request: HttpRequest, pk: int) -> Deployment:
    deployment = visible_deployment(request, pk)
    if not selectors.can_manage(request.user, deployment.workspace):
        raise PermissionDenied("Only workspace owners and operators change a deployment's environment variables.")
    return deployment


def _back(deployment: Deployment) -> HttpResponse:
    return redirect(f"{deployment.get_absolute_url()}#variables")


def _page_again(request: HttpRequest, deployment: Deployment, form, status: int, **forms) -> HttpResponse:
    """The deployment page with the form's message; a secret typed into it is not sent back."""
    if form.is_bound and form.data.get("is_secret"):
        form.data = form.data.copy()
        form.data["value" if isinstance(form, VariableForm) else "text"] = ""
    context = deployment_context(request, deployment)
    context.update(forms)
    return render(request, "deployments/deployment_detail.html", context, status=status)


@login_required
@require_http_methods(["POST"])
def deployment_variable_set(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _managed(request, pk)
    form, status = VariableForm(request.POST), 400
    if form.is_valid():
        data = form.cleaned_data
        variable, status = form_submit(form, lambda: variable_services.variable_set(
            deployment=deployment, key=data["key"], value=data["value"] or None, is_secret=data["is_secret"] or None,
            actor=actor(request),
        ))
        if variable is not None:
            messages.success(request, f"Environment variable {variable.key} saved; it reaches the deployment at its next rollout.")
            return _back(deployment)
    return _page_again(request, deployment, form, status, variable_form=form)


@login_required
@require_http_methods(["POST"])
def deployment_variables_import(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _managed(request, pk)
    form, status = VariablesImportForm(request.POST), 400
    if form.is_valid():
        counts, status = form_submit(form, lambda: variable_services.variables_import(
            deployment=deployment, text=form.cleaned_data["text"], is_secret=form.cleaned_data["is_secret"],
            actor=actor(request),
        ))
        if counts is not None:
            messages.success(request, "Imported: {created} created, {updated} updated, {unchanged} unchanged.".format(**counts))
            return _back(deployment)
    return _page_again(request, deployment, form, status, variables_import_form=form)


@login_required
@require_http_methods(["POST"])
@errors_as_messages("deployment_detail")
def deployment_variable_delete(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _managed(request, pk)
    key = request.POST.get("key", "")
    variable_services.variable_delete(deployment=deployment, key=key, actor=actor(request))
    messages.success(request, f"Environment variable {key} deleted.")
    return _back(deployment)
