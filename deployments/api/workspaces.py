"""Routes for workspaces and deployments."""
from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from portal.errors import Forbidden
from tenancy import services as tenancy
from tenancy.audit import Actor
from tenancy.models import WorkspaceMembership

from .. import selectors
from ..services import deployments as deployment_services
from ..services import git as git_services
from .auth import client_ip, get_scoped, managed_deployment, require_role
from .schemas import (
    DeploymentIn,
    DeploymentOut,
    DeploymentPatch,
    ErrorOut,
    WorkspaceIn,
    WorkspaceOut,
)

router = Router(tags=["workspaces and deployments"])
ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


@router.post("/workspaces", response={201: WorkspaceOut, **ERRORS})
def create_workspace(request: HttpRequest, payload: WorkspaceIn):
    token = request.auth
    if token.workspace_id or token.role != WorkspaceMembership.Role.OWNER:
        raise Forbidden("Creating workspaces needs an organization-scoped token with the owner role.")
    workspace = tenancy.workspace_create(organization=token.organization, name=payload.name, description=payload.description)
    return 201, workspace


@router.get("/workspaces", response=list[WorkspaceOut])
def list_workspaces(request: HttpRequest):
    return selectors.token_workspaces(request.auth).select_related("organization")


@router.get("/workspaces/{workspace_id}", response={200: WorkspaceOut, 404: ErrorOut})
def get_workspace(request: HttpRequest, workspace_id: int):
    return get_scoped(selectors.token_workspaces(request.auth).select_related("organization"), workspace_id)


@router.post("/workspaces/{workspace_id}/deployments", response={201: DeploymentOut, **ERRORS})
def create_deployment(request: HttpRequest, workspace_id: int, payload: DeploymentIn):
    token = request.auth
    workspace = get_scoped(selectors.token_workspaces(token).select_related("organization"), workspace_id)
    if token.deployment_id:
        raise Forbidden("A deployment-scoped token cannot create deployments.")
    require_role(token, selectors.MANAGE_ROLES, "create deployments")
    fields = payload.dict(exclude_none=True)
    deployment = deployment_services.deployment_create(
        workspace=workspace, actor=Actor(token=token, ip=client_ip(request)), **fields
    )
    return 201, deployment


@router.get("/workspaces/{workspace_id}/deployments", response={200: list[DeploymentOut], 404: ErrorOut})
def list_deployments(request: HttpRequest, workspace_id: int):
    workspace = get_scoped(selectors.token_workspaces(request.auth), workspace_id)
    return selectors.token_deployments(request.auth).filter(workspace=workspace)


@router.get("/deployments/{deployment_id}", response={200: DeploymentOut, 404: ErrorOut})
def get_deployment(request: HttpRequest, deployment_id: int):
    return get_scoped(selectors.token_deployments(request.auth), deployment_id)


@router.patch("/deployments/{deployment_id}", response={200: DeploymentOut, **ERRORS})
def update_deployment(request: HttpRequest, deployment_id: int, payload: DeploymentPatch):
    """Change the settings given; those the components run (worker queues, resources, the worker
    grace period) roll out, as a rollout listed under /rollouts."""
    deployment, actor = managed_deployment(request, deployment_id, "change a deployment's settings")
    return deployment_services.deployment_update(deployment=deployment, actor=actor, **payload.dict(exclude_none=True))


@router.delete("/deployments/{deployment_id}", response={204: None, **ERRORS})
def delete_deployment(request: HttpRequest, deployment_id: int):
    """Delete the deployment, its deploys and variables; what it ran is removed from the swarm."""
    token = request.auth
    deployment = get_scoped(selectors.token_deployments(token).select_related("workspace__organization"), deployment_id)
    require_role(token, selectors.MANAGE_ROLES, "delete deployments")
    if token.deployment_id:
        raise Forbidden("A deployment-scoped token cannot delete its deployment.")
    deployment_services.deployment_delete(deployment=deployment, actor=Actor(token=token, ip=client_ip(request)))
    return 204, None


@router.get("/deployments", response=list[DeploymentOut])
def list_all_deployments(request: HttpRequest):
    """Every deployment the token may see, in all its workspaces."""
    return selectors.token_deployments(request.auth).select_related("workspace")


@router.post("/deployments/{deployment_id}/deploy-key", response={201: DeploymentOut, **ERRORS})
def create_deploy_key(request: HttpRequest, deployment_id: int):
    """Make (or replace) the deployment's SSH deploy key; its public half is in `git.deploy_key`."""
    token = request.auth
    deployment = get_scoped(selectors.token_deployments(token).select_related("workspace__organization"), deployment_id)
    require_role(token, selectors.MANAGE_ROLES, "change a deployment's git access")
    git_services.git_deploy_key_generate(deployment=deployment, actor=Actor(token=token, ip=client_ip(request)))
    return 201, deployment
