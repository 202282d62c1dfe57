"""Writes for deployments' settings (desired versions change only through deploys)."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from portal.errors import Conflict, Invalid
from tenancy.audit import Actor, audit_record
from tenancy.models import Workspace

from ..models import Deploy, Deployment, Rollout, normalize_worker_queues
from . import rollouts, runtime
from .git import git_check_url

EDITABLE_FIELDS = (
    "name", "description", "runtime_image", "executor", "worker_queues",
    "dag_deploy_enabled", "pytest_by_default", "git_url", "git_branch", "git_subdir", "webhook_secret",
    "worker_grace_period", "resources", "hibernation_schedules",
)
# The settings the data plane runs: a change to one of them is rolled out to the components.
RUNTIME_FIELDS = ("worker_queues", "resources", "worker_grace_period")


def _normalized(fields: dict[str, Any]) -> dict[str, Any]:
    if "worker_queues" in fields:
        fields = {**fields, "worker_queues": normalize_worker_queues(fields["worker_queues"])}
    return fields


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
    fields = _normalized(fields)
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
    """Change a deployment's settings; those the components run are rolled out."""
    _check_fields(fields)
    fields = _normalized(fields)
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
        rolled = [k for k in changed if k in RUNTIME_FIELDS]
        if rolled and deployment.desired_image_digest:
            rollouts.rollout_start(deployment=deployment, kind=Rollout.Kind.SETTINGS, summary=", ".join(rolled), actor=actor)
            runtime.reconcile_soon(deployment.pk)
    return deployment


@transaction.atomic
def deployment_delete(*, deployment: Deployment, actor: Actor | None = None) -> None:
    """Delete a deployment with its deploys and variables; the data plane then removes everything
    it ran (services, secrets, network and its database's volume). Refused while a deploy runs."""
    locked = Deployment.objects.select_for_update().select_related("workspace__organization").get(pk=deployment.pk)
    active = Deploy.objects.filter(deployment=locked, state__in=Deploy.ACTIVE_STATES).first()
    if active is not None:
        raise Conflict(f"Deploy {active.pk} of {locked.name} is still running: cancel it or let it finish, then delete.")
    audit_record(organization=locked.workspace.organization, action="deployment.delete", target=locked.name, actor=actor,
                 workspace=locked.workspace.name)
    pk = locked.pk
    locked.delete()
    runtime.reconcile_soon(pk)  # finds it gone: tears down what ran
