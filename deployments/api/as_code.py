"""Deployments as code: a deployment's whole configuration as one document (GET), applied back to
it (PUT) or to a new deployment in a workspace (POST), all or nothing. The `airdock` CLI reads and
writes the same documents as YAML (`deployment inspect`, `deployment create|update --file`)."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Body, Router

from portal.errors import Forbidden
from tenancy.audit import Actor

from .. import selectors
from ..services import as_code
from .auth import client_ip, get_scoped, require_role
from .schemas import DeploymentOut, ErrorOut

router = Router(tags=["deployments as code"])
ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


@router.get("/deployments/{deployment_id}/config", response={200: dict[str, Any], 404: ErrorOut})
def get_config(request: HttpRequest, deployment_id: int):
    """The deployment's settings, worker queues, resources, schedules and variables (secret values
    null), with its read-only metadata."""
    return as_code.deployment_document(get_scoped(selectors.token_deployments(request.auth), deployment_id))


@router.put("/deployments/{deployment_id}/config", response={200: DeploymentOut, **ERRORS})
def put_config(request: HttpRequest, deployment_id: int, payload: dict[str, Any] = Body(...)):
    token = request.auth
    deployment = get_scoped(selectors.token_deployments(token).select_related("workspace__organization"), deployment_id)
    require_role(token, selectors.MANAGE_ROLES, "change a deployment's settings")
    return as_code.deployment_apply(document=payload, deployment=deployment, actor=Actor(token=token, ip=client_ip(request)))


@router.post("/workspaces/{workspace_id}/deployments/config", response={201: DeploymentOut, **ERRORS})
def post_config(request: HttpRequest, workspace_id: int, payload: dict[str, Any] = Body(...)):
    token = request.auth
    workspace = get_scoped(selectors.token_workspaces(token).select_related("organization"), workspace_id)
    if token.deployment_id:
        raise Forbidden("A deployment-scoped token cannot create deployments.")
    require_role(token, selectors.MANAGE_ROLES, "create deployments")
    return 201, as_code.deployment_apply(document=payload, workspace=workspace, actor=Actor(token=token, ip=client_ip(request)))
