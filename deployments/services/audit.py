"""The audit log: every deploy, rollback, token and membership change, with who, what and where."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from ..models import ApiToken, AuditEvent, Organization


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in user or an API token, and from which address."""

    user: AbstractBaseUser | None = None
    token: ApiToken | None = None
    ip: str | None = None


def audit_record(
    *, organization: Organization, action: str, target: str, actor: Actor | None = None, **detail: Any
) -> AuditEvent:
    actor = actor or Actor()
    user = actor.user if actor.user is not None and getattr(actor.user, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        organization=organization, action=action, target=target[:255], detail=detail,
        actor_user=user, actor_token=actor.token, ip=actor.ip,
    )
