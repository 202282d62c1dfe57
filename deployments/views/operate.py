"""Buttons that operate a deployment: hibernate it and wake it up (owners and operators)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from portal.web import errors_as_messages

from ..services import hibernation
from .deployments import _managed_deployment, actor


@login_required
@require_http_methods(["POST"])
@errors_as_messages("deployment_detail")
def deployment_hibernate(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _managed_deployment(request, pk, "hibernate it")
    hibernation.deployment_hibernate(deployment=deployment, actor=actor(request))
    messages.success(request, f"{deployment.name} is hibernating: every component stops; deploys still activate and run at wake-up.")
    return redirect(deployment)


@login_required
@require_http_methods(["POST"])
@errors_as_messages("deployment_detail")
def deployment_wake_up(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _managed_deployment(request, pk, "wake it up")
    hibernation.deployment_wake_up(deployment=deployment, actor=actor(request))
    messages.success(request, f"{deployment.name} is waking up on the versions last activated.")
    return redirect(deployment)
