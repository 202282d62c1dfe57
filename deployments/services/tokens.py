"""API tokens: created with a role and a scope, shown once, stored as a hash, checked on every use."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from portal.errors import Invalid
from tenancy.audit import Actor, audit_record
from tenancy.models import Organization, Workspace, WorkspaceMembership

from ..models import ApiToken, Deployment

PREFIX = "adk_"


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def token_create(
    *,
    organization: Organization,
    name: str,
    role: str,
    workspace: Workspace | None = None,
    deployment: Deployment | None = None,
    expires_at: datetime | None = None,
    actor: Actor | None = None,
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is never stored and never shown again."""
    if role not in WorkspaceMembership.Role.values:
        raise Invalid(f"Unknown role {role!r}; use one of {', '.join(WorkspaceMembership.Role.values)}.")
    if deployment is not None:
        workspace = workspace or deployment.workspace
        if deployment.workspace_id != workspace.pk:
            raise Invalid("The deployment is not in that workspace.")
    if workspace is not None and workspace.organization_id != organization.pk:
        raise Invalid("The workspace is not in that organization.")
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid("The expiry date lies in the past.")
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        organization=organization, workspace=workspace, deployment=deployment, name=name or "API token",
        role=role, prefix=raw[:10], token_hash=token_hash(raw), expires_at=expires_at,
        created_by=actor.signed_in_user if actor else None,
    )
    audit_record(organization=organization, action="token.create", target=str(token), actor=actor,
                 scope=token.scope, role=role)
    return token, raw


def token_revoke(*, token: ApiToken, actor: Actor | None = None) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(organization=token.organization, action="token.revoke", target=str(token), actor=actor)


def token_authenticate(*, raw: str, ip: str | None = None) -> ApiToken | None:
    """Return the live token for this secret (recording its use), or None."""
    if not raw.startswith(PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("organization", "workspace", "deployment")
        .filter(token_hash=token_hash(raw)).first()
    )
    now = timezone.now()
    if token is None or token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
        return None
    # Record use at most once a minute: a CI job polling a log must not write on every request.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1) or token.last_used_ip != ip:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip)
    return token
