"""A deployment's notification channels: where Airdock tells a team that a deploy succeeded or
failed, or that the deployment turned unhealthy or is healthy again. A webhook gets signed JSON;
a Slack-compatible incoming webhook gets a message."""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models

from .fields import SecretCharField

EVENTS = {
    "deploy_succeeded": "a deploy succeeded",
    "deploy_failed": "a deploy failed",
    "deployment_unhealthy": "the deployment turned unhealthy",
    "deployment_healthy": "the deployment is healthy again",
}


def all_events() -> list[str]:
    return list(EVENTS)


def validate_events(value: object) -> None:
    if not isinstance(value, list) or not value or any(e not in EVENTS for e in value):
        raise ValidationError(f"Choose at least one event among {', '.join(EVENTS)}.")


def _signing_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class NotificationChannel(models.Model):
    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook (signed JSON)"
        SLACK = "slack", "Slack incoming webhook"

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="notification_channels")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WEBHOOK)
    url = SecretCharField(max_length=2000, help_text="Where to POST (it may hold a token: stored encrypted, never shown whole).")
    signing_secret = SecretCharField(max_length=128, default=_signing_secret,
                                     help_text="Signs each webhook (X-Airdock-Signature); shown once, when made.")
    events = models.JSONField(default=all_events, validators=[validate_events])
    enabled = models.BooleanField(default=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=300, blank=True, help_text="The last delivery: the answer's status, or why it failed.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["deployment", "name"], name="unique_notification_channel_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def url_shown(self) -> str:
        """Scheme and host only: the path of an incoming webhook is its token."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…" if parts.scheme else ""
