"""Writes for deployments' settings (desired versions change only through deploys)."""
from __future__ import annotations

from typing import Any

from django.db import transaction

from ..models import Deployment, Workspace

EDITABLE_FIELDS = (
    "name", "description", "runtime_image", "executor", "worker_queues",
    "dag_deploy_enabled", "pytest_by_default", "git_url", "git_branch", "git_subdir", "webhook_secret",
)


class DeploymentError(Exception):
    """A deployment change that cannot be made; the message says why."""


def _check_name(*, workspace: Workspace, name: str, exclude_pk: int | None = None) -> None:
    clash = Deployment.objects.filter(workspace=workspace, name=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise DeploymentError(f"The workspace already has a deployment named {name!r}.")


@transaction.atomic
def deployment_create(*, workspace: Workspace, name: str, **fields: Any) -> Deployment:
    """Create a deployment; it waits in CREATING until its first deploy."""
    _check_name(workspace=workspace, name=name)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise DeploymentError(f"Unknown deployment settings: {', '.join(sorted(unknown))}.")
    return Deployment.objects.create(
        workspace=workspace, name=name,
        status=Deployment.Status.CREATING, status_reason="Waiting for the first deploy.",
        **fields,
    )


@transaction.atomic
def deployment_update(*, deployment: Deployment, **fields: Any) -> Deployment:
    """Change a deployment's settings."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise DeploymentError(f"Unknown deployment settings: {', '.join(sorted(unknown))}.")
    if "name" in fields:
        _check_name(workspace=deployment.workspace, name=fields["name"], exclude_pk=deployment.pk)
    for key, value in fields.items():
        setattr(deployment, key, value)
    deployment.save(update_fields=[*fields, "updated_at"])
    return deployment
