"""Live events: the only way an event leaves the portal for the browser.

Events go to Channels groups (channels-redis, so the RQ worker's events cross processes) after the
transaction that made the change commits. Groups: one per deploy, one per deployment, one per
workspace (the dashboard listens to the workspaces a user can see), and one per user, which only
carries "re-check your access" to that user's open sockets.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)


def deploy_group(deploy_id: int) -> str:
    return f"deploy.{deploy_id}"


def deployment_group(deployment_id: int) -> str:
    return f"deployment.{deployment_id}"


def workspace_group(workspace_id: int) -> str:
    return f"workspace.{workspace_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _to_user(user_id: int, message: dict[str, Any]) -> None:
    if getattr(settings, "AIRDOCK_LIVE_EVENTS", True):
        transaction.on_commit(lambda: _publish([user_group(user_id)], message))


def access_changed(user_id: int) -> None:
    """A user's memberships or account changed: every socket of the user re-checks its access
    (and closes when it is gone) once the current transaction commits."""
    _to_user(user_id, {"type": "airdock.access"})


def session_ended(user_id: int, session_key: str) -> None:
    """The user signed out: the sockets opened with that session close."""
    _to_user(user_id, {"type": "airdock.signout", "session_key": session_key})


def _send(groups: list[str], event: dict[str, Any]) -> None:
    # Round-trip through JSON so an event that could not cross the wire fails here, in tests too.
    _publish(groups, {"type": "airdock.event", "event": json.loads(json.dumps(event, cls=DjangoJSONEncoder))})


def _publish(groups: list[str], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # noqa: BLE001 - a live update lost must never fail a deploy
            logger.warning("cannot publish %s to %s", message.get("event", message).get("type"), group, exc_info=True)


def notify(groups: list[str], event: dict[str, Any]) -> None:
    """Publish `event` to `groups` once the current transaction commits (at once outside one)."""
    if getattr(settings, "AIRDOCK_LIVE_EVENTS", True):
        transaction.on_commit(lambda: _send(groups, event))


def deploy_state(deploy, step=None) -> None:
    """A deploy's state or one of its steps changed."""
    event = {
        "type": "deploy.state", "deploy_id": deploy.pk, "deployment_id": deploy.deployment_id,
        "state": deploy.state, "error": deploy.error,
    }
    if step is not None:
        event["step"] = {
            "name": step.name, "state": step.state, "message": step.message,
            "started_at": step.started_at, "finished_at": step.finished_at,
            "seconds": step.duration.total_seconds() if step.duration else None,
        }
    notify([deploy_group(deploy.pk), deployment_group(deploy.deployment_id)], event)


def deploy_log(deploy_id: int, lines: list) -> None:
    """New log lines of a deploy, with their sequence numbers."""
    notify([deploy_group(deploy_id)], {
        "type": "deploy.log", "deploy_id": deploy_id,
        "lines": [{"seq": l.seq, "step": l.step, "text": l.text} for l in lines],
    })


def deploy_push_progress(deploy_id: int, layers: dict[str, dict]) -> None:
    """Per-layer push progress (live only, not stored)."""
    notify([deploy_group(deploy_id)], {"type": "deploy.push", "deploy_id": deploy_id, "layers": layers})


def deployment_changed(deployment) -> None:
    """A deployment's status or desired versions changed, or it has a new deploy."""
    notify([deployment_group(deployment.pk), workspace_group(deployment.workspace_id)], {
        "type": "deployment.changed", "deployment_id": deployment.pk, "status": deployment.status,
        "desired_image_tag": deployment.desired_image_tag,
        "desired_dag_bundle_version": deployment.desired_dag_bundle_version,
    })


def component_logs_group(deployment_id: int) -> str:
    """Only the deployment's log pages and `logs --follow` listen here (members of its workspace)."""
    return f"deployment-logs.{deployment_id}"


def log_line(line) -> dict[str, Any]:
    return {"id": line.id, "component": line.component, "task": line.task_id[:12], "at": line.logged_at.isoformat(),
            "text": line.text}


def component_logs(deployment_id: int, lines: list) -> None:
    """New lines of the deployment's components' logs (already masked by their agents)."""
    notify([component_logs_group(deployment_id)], {
        "type": "component.logs", "deployment_id": deployment_id, "lines": [log_line(line) for line in lines]})
