"""Notifications: a deploy succeeded or failed, the deployment turned unhealthy or is healthy
again. Each enabled channel subscribed to the event gets a delivery job (queue "notifications",
retried three times) once the change commits; the test button delivers at once.

A webhook gets JSON with `X-Airdock-Event` and `X-Airdock-Signature: t=<unix time>,v1=<hex>`, the
HMAC-SHA256 of "<t>.<body>" with the channel's signing secret; a Slack-compatible incoming webhook
gets {"text": ...}."""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import django_rq
from django.db import IntegrityError, transaction
from django.utils import timezone
from rq import Retry

from portal.errors import Conflict, Invalid
from tenancy.audit import Actor, audit_record

from ..integrations import outbound
from ..models import NOTIFICATION_EVENTS, Deployment, NotificationChannel
from ..models.notifications import validate_events

DELIVER_JOB = "deployments.jobs.deliver_notification"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def payload(deployment: Deployment, event: str, *, reason: str = "", deploy=None) -> dict:
    body = {
        "event": event, "summary": f"{deployment.name}: {NOTIFICATION_EVENTS.get(event, event)}",
        "at": timezone.now().isoformat(),
        "deployment": {"id": deployment.pk, "name": deployment.name, "workspace": deployment.workspace.name,
                       "organization": deployment.workspace.organization.slug, "status": deployment.status,
                       "status_reason": reason or deployment.status_reason},
    }
    if deploy is not None:
        body["deploy"] = {"id": deploy.pk, "kind": deploy.kind, "state": deploy.state, "error": deploy.error[:2000],
                          "image_tag": deploy.image_tag, "dag_bundle_version": deploy.dag_bundle_version}
    return body


def _request(channel: NotificationChannel, body: dict) -> tuple[bytes, dict[str, str]]:
    if channel.kind == NotificationChannel.Kind.SLACK:
        detail = body["deployment"]["status_reason"] if "deploy" not in body else body["deploy"]["error"] or body["deploy"]["image_tag"]
        text = f"*Airdock* {body['summary']}" + (f"\n{detail}" if detail else "")
        return json.dumps({"text": text}).encode(), {"Content-Type": "application/json"}
    data = json.dumps(body, sort_keys=True).encode()
    return data, {"Content-Type": "application/json", "X-Airdock-Event": body["event"],
                  "X-Airdock-Signature": signature(channel.signing_secret, int(time.time()), data)}


def deliver(channel_id: int, body: dict) -> str:
    """Send one notification; record the result on the channel; raise (for a retry) when it failed."""
    channel = NotificationChannel.objects.filter(pk=channel_id, enabled=True).first()
    if channel is None:
        return "channel gone or disabled"
    data, headers = _request(channel, body)
    try:
        result = outbound.post(channel.url, data, headers)
    except outbound.OutboundError as exc:
        NotificationChannel.objects.filter(pk=channel.pk).update(last_sent_at=timezone.now(), last_result=f"failed: {exc.message}"[:300])
        raise
    NotificationChannel.objects.filter(pk=channel.pk).update(last_sent_at=timezone.now(), last_result=result[:300])
    return result


def notify(deployment: Deployment, event: str, **details) -> None:
    """Queue a delivery to each of the deployment's channels that wants `event`, after commit."""
    channels = [c.pk for c in deployment.notification_channels.filter(enabled=True) if event in c.events]
    if not channels:
        return
    body = payload(deployment, event, **details)

    def enqueue() -> None:
        queue = django_rq.get_queue("notifications")
        for channel_id in channels:
            queue.enqueue(DELIVER_JOB, channel_id, body, retry=Retry(max=3, interval=[10, 60, 300]),
                          description=f"notify {event} of deployment {deployment.pk}")

    transaction.on_commit(enqueue)


@transaction.atomic
def channel_create(*, deployment: Deployment, name: str, kind: str, url: str, events: list[str] | None = None,
                   actor: Actor | None = None) -> NotificationChannel:
    if kind not in NotificationChannel.Kind.values:
        raise Invalid(f"kind: use {' or '.join(NotificationChannel.Kind.values)}.")
    if not name.strip():
        raise Invalid("Give the channel a name, e.g. team-alerts.")
    outbound.check_url(url)
    channel = NotificationChannel(deployment=deployment, name=name.strip()[:100], kind=kind, url=url,
                                  events=events or list(NOTIFICATION_EVENTS))
    try:
        validate_events(channel.events)
    except Exception as exc:  # noqa: BLE001 - a ValidationError: its message
        raise Invalid(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError as exc:
        raise Conflict(f"Deployment {deployment.name} already has a channel named {channel.name}.") from exc
    audit_record(organization=deployment.workspace.organization, action="deployment.notification.create",
                 target=f"{deployment.name}: {channel.name}", actor=actor, kind=kind, events=channel.events)
    return channel


@transaction.atomic
def channel_delete(*, channel: NotificationChannel, actor: Actor | None = None) -> None:
    deployment = channel.deployment
    audit_record(organization=deployment.workspace.organization, action="deployment.notification.delete",
                 target=f"{deployment.name}: {channel.name}", actor=actor)
    channel.delete()


def channel_test(*, channel: NotificationChannel) -> str:
    """Deliver a "test" notification now; return the receiver's answer (OutboundError if it failed)."""
    return deliver(channel.pk, payload(channel.deployment, "test", reason="A test from the deployment page."))
