"""The audit log: every deploy, rollback, token and membership change, with who, what and where."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from .models import AuditEvent, Organization


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in user or an API token (anything with name, prefix), and from where."""

    user: AbstractBaseUser | None = None
    token: Any = None
    ip: str | None = None

    @property
    def signed_in_user(self) -> AbstractBaseUser | None:
        user = self.user
        return user if user is not None and getattr(user, "is_authenticated", False) else None


def audit_record(
    *, organization: Organization, action: str, target: str, actor: Actor | None = None, **detail: Any
) -> AuditEvent:
    actor = actor or Actor()
    user = actor.signed_in_user
    if actor.token is not None:
        kind, name, prefix = AuditEvent.ActorKind.TOKEN, actor.token.name, actor.token.prefix
    elif user is not None:
        kind, name, prefix = AuditEvent.ActorKind.USER, user.get_username(), ""
    else:
        kind, name, prefix = AuditEvent.ActorKind.SYSTEM, "", ""
    return AuditEvent.objects.create(
        organization=organization, action=action, target=target[:255], detail=detail,
        actor_kind=kind, actor_name=name[:150], actor_token_prefix=prefix[:12], actor_user=user, ip=actor.ip,
    )
