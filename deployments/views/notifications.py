"""The deployment page's notifications card (owners and operators): add a webhook or Slack
channel, send it a test, delete it. A webhook's signing secret is shown once, when it is made."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods

from portal.web import errors_as_messages

from ..integrations.outbound import OutboundError
from ..models import NOTIFICATION_EVENTS, Deployment, NotificationChannel
from ..services import notifications
from .deployments import _managed_deployment, actor


def _back(deployment: Deployment) -> HttpResponse:
    return redirect(f"{deployment.get_absolute_url()}#notifications")


def _channel(request: HttpRequest, pk: int) -> tuple[Deployment, NotificationChannel]:
    deployment = _managed_deployment(request, pk, "change its notifications")
    return deployment, get_object_or_404(NotificationChannel, deployment=deployment, pk=request.POST.get("channel"))


@login_required
@require_http_methods(["POST"])
@errors_as_messages("deployment_detail")
def notification_create(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _managed_deployment(request, pk, "change its notifications")
    channel = notifications.channel_create(
        deployment=deployment, name=request.POST.get("name", ""), kind=request.POST.get("kind", ""),
        url=request.POST.get("url", "").strip(), events=[e for e in request.POST.getlist("events") if e in NOTIFICATION_EVENTS],
        actor=actor(request))
    if channel.kind == NotificationChannel.Kind.WEBHOOK:
        messages.success(request, f"Channel {channel.name} added. Its signing secret (shown only now): {channel.signing_secret}")
    else:
        messages.success(request, f"Channel {channel.name} added.")
    return _back(deployment)


@login_required
@require_http_methods(["POST"])
@errors_as_messages("deployment_detail")
def notification_test(request: HttpRequest, pk: int) -> HttpResponse:
    deployment, channel = _channel(request, pk)
    try:
        messages.success(request, f"Test sent to {channel.name}: the receiver answered {notifications.channel_test(channel=channel)}.")
    except OutboundError as exc:
        messages.error(request, f"The test to {channel.name} failed: {exc.message}")
    return _back(deployment)


@login_required
@require_http_methods(["POST"])
@errors_as_messages("deployment_detail")
def notification_delete(request: HttpRequest, pk: int) -> HttpResponse:
    deployment, channel = _channel(request, pk)
    notifications.channel_delete(channel=channel, actor=actor(request))
    messages.success(request, f"Channel {channel.name} deleted.")
    return _back(deployment)
