"""A deployment's pages: create, show (with its deploy history), edit, deploy from git."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_http_methods

from portal.web import errors_as_messages, form_submit
from tenancy.audit import Actor

from .. import selectors
from ..forms import DeployForm, DeploymentForm, VariableForm, VariablesImportForm
from ..models import NOTIFICATION_EVENTS, Deploy, Deployment
from ..services import deployments as deployment_services
from ..services import git as git_services


def actor(request: HttpRequest) -> Actor:
    return Actor(user=request.user, ip=request.META.get("REMOTE_ADDR"))


def visible_deployment(request: HttpRequest, pk: int) -> Deployment:
    return selectors.get_or_404(
        selectors.deployments_for_user(request.user).select_related("workspace__organization", "current_deploy"), pk=pk
    )


def deployment_context(request: HttpRequest, deployment: Deployment, form: DeployForm | None = None) -> dict:
    role = selectors.workspace_role(request.user, deployment.workspace)
    filters = {k: request.GET.get(k, "") for k in ("state", "kind", "by")}
    recent = selectors.deployment_recent_finished(deployment)
    longest = max([d.duration.total_seconds() for d in recent] + [0.001])
    return {
        "deployment": deployment,
        "deploys": selectors.deployment_deploys(deployment, **filters)[:50],
        "filters": filters,
        "states": Deploy.State.choices,
        "kinds": Deploy.Kind.choices,
        "duration_chart": [(d, round(d.duration.total_seconds(), 1), round(100 * d.duration.total_seconds() / longest)) for d in recent],
        "can_manage": role in selectors.MANAGE_ROLES,
        "can_deploy": role in selectors.DEPLOY_ROLES,
        "deploy_form": form or DeployForm(initial={"run_pytest": deployment.pytest_by_default}),
        # Read only by the full page (the live panel does not show them).
        "variables": SimpleLazyObject(lambda: selectors.variables_for(deployment)),
        "variable_form": VariableForm(),
        "queues": selectors.worker_queues_shown(deployment),
        "channels": SimpleLazyObject(lambda: list(deployment.notification_channels.all())),
        "notification_events": NOTIFICATION_EVENTS,
        "resources": selectors.resources_shown(deployment),
        "rollouts": SimpleLazyObject(lambda: selectors.deployment_rollouts(deployment, 10)),
        "variables_import_form": VariablesImportForm(),
    }


@login_required
@require_http_methods(["GET", "POST"])
def deployment_create(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = selectors.get_or_404(selectors.workspaces_for_user(request.user).select_related("organization"), pk=pk)
    if not selectors.can_manage(request.user, workspace):
        raise PermissionDenied("Only workspace owners and operators create deployments.")
    form = DeploymentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        deployment, _ = form_submit(form, lambda: deployment_services.deployment_create(
            workspace=workspace, actor=actor(request), **form.cleaned_data
        ))
        if deployment is not None:
            messages.success(request, f"Deployment {deployment.name} created.")
            return redirect(deployment)
    return render(request, "form.html", {
        "form": form, "title": f"New deployment in {workspace.name}", "cancel_url": workspace.get_absolute_url(),
    })


@login_required
def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = visible_deployment(request, pk)
    return render(request, "deployments/deployment_detail.html", deployment_context(request, deployment))


@login_required
def deployment_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the deployment page (versions, history), swapped in place by the page."""
    deployment = visible_deployment(request, pk)
    return render(request, "deployments/_deployment_panel.html", deployment_context(request, deployment))


@login_required
@require_http_methods(["GET", "POST"])
def deployment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = visible_deployment(request, pk)
    if not selectors.can_manage(request.user, deployment.workspace):
        raise PermissionDenied("Only workspace owners and operators change deployments.")
    form = DeploymentForm(request.POST or None, instance=deployment)
    if request.method == "POST" and form.is_valid():
        # The form changed `deployment` in memory while validating; the service gets the stored one.
        saved, _ = form_submit(form, lambda: deployment_services.deployment_update(
            deployment=visible_deployment(request, pk), actor=actor(request), **form.cleaned_data
        ))
        if saved is not None:
            messages.success(request, "Deployment saved.")
            return redirect(deployment)
    return render(request, "form.html", {
        "form": form, "title": f"Edit deployment {deployment.name}", "cancel_url": deployment.get_absolute_url(),
    })


@login_required
@require_http_methods(["POST"])
@errors_as_messages("deployment_detail")
def deployment_git_deploy(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = visible_deployment(request, pk)
    if not selectors.can_deploy(request.user, deployment.workspace):
        raise PermissionDenied("Members may look, not deploy.")
    deploy = git_services.deploy_from_git(deployment=deployment, user=request.user, ip=request.META.get("REMOTE_ADDR"))
    messages.success(request, f"Deploy {deploy.pk} queued from {deployment.git_branch} @ {deploy.git_commit[:12]}.")
    return redirect(deploy)


def _managed_deployment(request: HttpRequest, pk: int, doing: str = "change its git access") -> Deployment:
    deployment = visible_deployment(request, pk)
    if not selectors.can_manage(request.user, deployment.workspace):
        raise PermissionDenied(f"Only workspace owners and operators may {doing}.")
    return deployment


@login_required
@require_http_methods(["POST"])
@errors_as_messages("deployment_detail")
def deployment_deploy_key(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _managed_deployment(request, pk)
    git_services.git_deploy_key_generate(deployment=deployment, actor=actor(request))
    messages.success(request, "New deploy key made: add its public half to the repository (read-only).")
    return redirect(f"{deployment.get_absolute_url()}#git-access")


@login_required
@require_http_methods(["POST"])
@errors_as_messages("deployment_detail")
def deployment_git_host_keys_forget(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _managed_deployment(request, pk)
    git_services.git_host_keys_forget(deployment=deployment, actor=actor(request))
    messages.success(request, "Host keys forgotten: the next clone records the server's key again.")
    return redirect(f"{deployment.get_absolute_url()}#git-access")
