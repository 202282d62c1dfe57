"""Routes for deploys: create (upload, prebuilt image), read, follow the log, roll back."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import File, Form, Router
from ninja.files import UploadedFile

from .. import selectors
from ..services import deploys as deploy_services
from .auth import client_ip, get_scoped, rate_limit, require_role
from .schemas import ConflictOut, DeployLogOut, DeployOut, ErrorOut, RollbackIn

router = Router(tags=["deploys"])
ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ConflictOut, 429: ErrorOut, 503: ErrorOut}


@router.post("/deployments/{deployment_id}/deploys", response={202: DeployOut, **ERRORS})
def create_deploy(
    request: HttpRequest,
    deployment_id: int,
    archive: UploadedFile | None = File(None),
    kind: str = Form("image_and_dags"),
    image_name: str = Form(""),
    description: str = Form(""),
    force: bool = Form(False),
    pytest: bool | None = Form(None),
    test_path: str = Form(""),
):
    """Deploy an uploaded project (or a prebuilt image). Send `Idempotency-Key` to make retries safe."""
    token = request.auth
    deployment = get_scoped(selectors.token_deployments(token).select_related("workspace__organization"), deployment_id)
    require_role(token, selectors.DEPLOY_ROLES, "deploy")
    rate_limit(f"api-deploys:{token.pk}", settings.AIRDOCK_API_DEPLOYS_PER_MINUTE, what="deploy requests from this token")
    deploy = deploy_services.deploy_create(
        deployment=deployment, user=None, token=token, ip=client_ip(request), kind=kind, archive=archive,
        image_name=image_name, description=description, force=force, run_pytest=pytest, test_path=test_path,
        idempotency_key=request.headers.get("Idempotency-Key", ""),
    )
    return 202, deploy


@router.get("/deployments/{deployment_id}/deploys", response={200: list[DeployOut], 404: ErrorOut})
def list_deploys(request: HttpRequest, deployment_id: int, limit: int = 20):
    deployment = get_scoped(selectors.token_deployments(request.auth), deployment_id)
    return selectors.deployment_deploys(deployment).prefetch_related("steps")[: max(1, min(limit, 200))]


@router.get("/deploys/{deploy_id}", response={200: DeployOut, 404: ErrorOut})
def get_deploy(request: HttpRequest, deploy_id: int):
    return get_scoped(selectors.token_deploys(request.auth), deploy_id)


@router.get("/deploys/{deploy_id}/log", response={200: DeployLogOut, 404: ErrorOut})
def get_deploy_log(request: HttpRequest, deploy_id: int, offset: int = 0, limit: int = 1000):
    """Log lines after `offset` (a sequence number); pass back `next_offset` to follow the log."""
    deploy = get_scoped(selectors.token_deploys(request.auth), deploy_id)
    lines = selectors.deploy_log_after(deploy, offset, limit)
    return {
        "deploy_id": deploy.pk, "state": deploy.state, "finished": not deploy.is_active,
        "lines": lines, "next_offset": lines[-1]["seq"] if lines else offset,
    }


@router.post("/deployments/{deployment_id}/rollback", response={202: DeployOut, **ERRORS})
def rollback(request: HttpRequest, deployment_id: int, payload: RollbackIn):
    token = request.auth
    deployment = get_scoped(selectors.token_deployments(token).select_related("workspace__organization"), deployment_id)
    require_role(token, selectors.DEPLOY_ROLES, "roll back")
    deploy = deploy_services.deployment_rollback(
        deployment=deployment, deploy_id=payload.deploy_id, token=token, ip=client_ip(request)
    )
    return 202, deploy
