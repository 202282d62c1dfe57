"""Routes for a deployment's notification channels: managers list, add, test and delete them. The
signing secret of a webhook is in the answer that creates it, and never again."""
from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from ..models import Deployment, NotificationChannel
from ..services import notifications
from .auth import get_scoped, managed_deployment
from .schemas import ChannelCreatedOut, ChannelIn, ChannelOut, ChannelTestOut, ErrorOut

router = Router(tags=["notifications"])
ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


def _channel(deployment: Deployment, channel_id: int) -> NotificationChannel:
    return get_scoped(NotificationChannel.objects.filter(deployment=deployment), channel_id)


@router.get("/deployments/{deployment_id}/notifications", response={200: list[ChannelOut], **ERRORS})
def list_channels(request: HttpRequest, deployment_id: int):
    deployment, _ = managed_deployment(request, deployment_id, "change a deployment's notifications")
    return deployment.notification_channels.all()


@router.post("/deployments/{deployment_id}/notifications", response={201: ChannelCreatedOut, **ERRORS})
def create_channel(request: HttpRequest, deployment_id: int, payload: ChannelIn):
    deployment, actor = managed_deployment(request, deployment_id, "change a deployment's notifications")
    return 201, notifications.channel_create(deployment=deployment, actor=actor, **payload.dict())


@router.post("/deployments/{deployment_id}/notifications/{channel_id}/test", response={200: ChannelTestOut, 502: ErrorOut, **ERRORS})
def test_channel(request: HttpRequest, deployment_id: int, channel_id: int):
    deployment, _ = managed_deployment(request, deployment_id, "change a deployment's notifications")
    return {"result": notifications.channel_test(channel=_channel(deployment, channel_id))}


@router.delete("/deployments/{deployment_id}/notifications/{channel_id}", response={204: None, **ERRORS})
def delete_channel(request: HttpRequest, deployment_id: int, channel_id: int):
    deployment, actor = managed_deployment(request, deployment_id, "change a deployment's notifications")
    notifications.channel_delete(channel=_channel(deployment, channel_id), actor=actor)
    return 204, None
