"""Routes to operate a deployment (as `astro deployment hibernate|wake-up`): hibernate it, wake it
up, and read the rollouts of its changes (its settings change by PATCH, in `workspaces`)."""
from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from .. import selectors
from ..services import hibernation
from .auth import get_scoped, managed_deployment
from .schemas import DeploymentOut, ErrorOut, RolloutOut

router = Router(tags=["operate a deployment"])
ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


@router.post("/deployments/{deployment_id}/hibernate", response={200: DeploymentOut, **ERRORS})
def hibernate_deployment(request: HttpRequest, deployment_id: int):
    """Stop every component (metadata, settings and versions kept); deploys still activate."""
    deployment, actor = managed_deployment(request, deployment_id, "hibernate a deployment")
    return hibernation.deployment_hibernate(deployment=deployment, actor=actor)


@router.post("/deployments/{deployment_id}/wake-up", response={200: DeploymentOut, **ERRORS})
def wake_up_deployment(request: HttpRequest, deployment_id: int):
    deployment, actor = managed_deployment(request, deployment_id, "wake a deployment up")
    return hibernation.deployment_wake_up(deployment=deployment, actor=actor)


@router.get("/deployments/{deployment_id}/rollouts", response={200: list[RolloutOut], 404: ErrorOut})
def list_rollouts(request: HttpRequest, deployment_id: int):
    """The latest changes of settings, variables and hibernation, newest first, with their state."""
    return selectors.deployment_rollouts(get_scoped(selectors.token_deployments(request.auth), deployment_id))
