"""Deployments as code: a deployment's whole configuration as one document (what `airdock
deployment inspect` prints, as astro's deployment files), and that document applied back, to a new
deployment or an existing one, all or nothing.

    deployment:
      configuration: {name, description, runtime_image, executor, dag_deploy_enabled, ...}
      worker_queues: [{name, min_workers, max_workers, concurrency, cpu?, memory?}]
      resources: {component: {cpu, memory}}
      hibernation_schedules: [{hibernate_at, wake_at, enabled?, description?}]
      environment_variables: [{key, value, is_secret}]   # a secret's value is null: kept as stored
      metadata: {id, status, ...}                        # read-only: ignored when applied

Environment variables the document does not list are left as they are."""
from __future__ import annotations

from typing import Any

from django.db import transaction

from portal.errors import Invalid
from tenancy.audit import Actor
from tenancy.models import Workspace

from .. import selectors
from ..models import Deployment
from . import deployments as deployment_services
from . import variables as variable_services

CONFIGURATION = ("name", "description", "runtime_image", "executor", "dag_deploy_enabled", "pytest_by_default",
                 "worker_grace_period", "git_url", "git_branch", "git_subdir")
SECTIONS = ("configuration", "worker_queues", "resources", "hibernation_schedules", "environment_variables", "metadata")


def deployment_document(deployment: Deployment) -> dict[str, Any]:
    """The deployment's configuration (secrets redacted) and, read-only, what it runs."""
    configuration = {field: getattr(deployment, field) for field in CONFIGURATION}
    configuration["git_url"] = deployment.git_url_shown or ""
    return {"deployment": {
        "configuration": configuration,
        "worker_queues": deployment.worker_queues,
        "resources": deployment.resources,
        "hibernation_schedules": deployment.hibernation_schedules,
        "environment_variables": [
            {"key": v["key"], "value": v["value"], "is_secret": v["is_secret"]} for v in selectors.variables_for(deployment)],
        "metadata": {
            "id": deployment.pk, "workspace_id": deployment.workspace_id, "status": deployment.status,
            "hibernating": deployment.hibernating, "desired_image": deployment.desired_image,
            "desired_image_digest": deployment.desired_image_digest,
            "desired_dag_bundle_version": deployment.desired_dag_bundle_version,
            "runtime_version": deployment.desired_runtime_version, "airflow_version": deployment.desired_airflow_version,
        },
    }}


def _sections(document: object) -> dict[str, Any]:
    if not isinstance(document, dict) or set(document) != {"deployment"} or not isinstance(document["deployment"], dict):
        raise Invalid("A deployment file holds one `deployment:` mapping (as `airdock deployment inspect --output yaml` prints).")
    sections = document["deployment"]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise Invalid(f"Unknown section(s) under deployment: {', '.join(sorted(unknown))}; use {', '.join(SECTIONS)}.")
    configuration = sections.get("configuration") or {}
    if not isinstance(configuration, dict):
        raise Invalid("deployment.configuration is a mapping of settings (name, description, ...).")
    unknown = set(configuration) - set(CONFIGURATION)
    if unknown:
        raise Invalid(f"Unknown setting(s) in deployment.configuration: {', '.join(sorted(unknown))}; "
                      f"use {', '.join(CONFIGURATION)}.")
    return sections


def _fields(sections: dict[str, Any], deployment: Deployment | None) -> dict[str, Any]:
    fields = {k: v for k, v in (sections.get("configuration") or {}).items() if v is not None}
    if deployment is not None and fields.get("git_url") == deployment.git_url_shown:
        fields.pop("git_url")  # as printed, its token masked: the stored URL stays
    for key in ("worker_queues", "resources", "hibernation_schedules"):
        if sections.get(key) is not None:
            fields[key] = sections[key]
    return fields


@transaction.atomic
def deployment_apply(*, document: object, actor: Actor | None = None, workspace: Workspace | None = None,
                     deployment: Deployment | None = None) -> Deployment:
    """Create a deployment in `workspace` from the document, or update `deployment` to it."""
    sections = _sections(document)
    fields = _fields(sections, deployment)
    if deployment is None:
        name = fields.pop("name", None)
        if not name:
            raise Invalid("deployment.configuration.name: a new deployment needs a name.")
        deployment = deployment_services.deployment_create(workspace=workspace, name=name, actor=actor, **fields)
    else:
        deployment = deployment_services.deployment_update(deployment=deployment, actor=actor, **fields)
    if sections.get("environment_variables"):
        variable_services.variables_apply(deployment=deployment, items=sections["environment_variables"], actor=actor)
    return deployment
