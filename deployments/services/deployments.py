"""Writes for deployments' settings (desired versions change only through deploys)."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from portal.errors import Conflict, Invalid
from tenancy.audit import Actor, audit_record
from tenancy.models import Workspace

from ..models import Deployment
from . import runtime
from .git import git_check_url

EDITABLE_FIELDS = (
    "name", "description", "runtime_image", "executor", "worker_queues",
    "dag_deploy_enabled", "pytest_by_default", "git_url", "git_branch", "git_subdir", "webhook_secret",
    "worker_grace_period",
)


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise Invalid(f"Unknown deployment settings: {', '.join(sorted(unknown))}.")


def _check_name(*, workspace: Workspace, name: str, exclude_pk: int | None = None) -> None:
    clash = Deployment.objects.filter(workspace=workspace, name=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise Conflict(f"The workspace already has a deployment named {name!r}.")


def _validate(deployment: Deployment) -> None:
    """Every field's own rules (choices, lengths, worker queues, an allowed git URL), as one message."""
    if deployment.git_url:
        git_check_url(deployment.git_url)
    try:
        deployment.full_clean(exclude=["workspace", "current_deploy"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise Invalid.from_validation(exc) from exc


@transaction.atomic
def deployment_create(*, workspace: Workspace, name: str, actor: Actor | None = None, **fields: Any) -> Deployment:
    """Create a deployment; it waits in CREATING until its first deploy."""
    _check_fields(fields)
    _check_name(workspace=workspace, name=name)
    deployment = Deployment(
        workspace=workspace, name=name,
        status=Deployment.Status.CREATING, status_reason="Waiting for the first deploy.",
        **fields,
    )
    _validate(deployment)
    deployment.save()
    audit_record(organization=workspace.organization, action="deployment.create", target=name, actor=actor)
    return deployment


@transaction.atomic
def deployment_update(*, deployment: Deployment, actor: Actor | None = None, **fields: Any) -> Deployment:
    """Change a deployment's settings."""
    _check_fields(fields)
    if "name" in fields:
        _check_name(workspace=deployment.workspace, name=fields["name"], exclude_pk=deployment.pk)
    changed = sorted(k for k, v in fields.items() if getattr(deployment, k) != v)
    for key, value in fields.items():
        setattr(deployment, key, value)
    _validate(deployment)
    deployment.save(update_fields=[*fields, "updated_at"])
    if changed:
        audit_record(organization=deployment.workspace.organization, action="deployment.update",
                     target=deployment.name, actor=actor, changed=changed)
        if deployment.desired_image_digest:
            runtime.reconcile_soon(deployment.pk)  # worker queues, grace period, ... roll out
    return deployment
