"""The JSON API under /api/v1/, for CI: bearer API tokens, scoped and role-checked on every call."""
from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import File, Form, NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.security import HttpBearer

from . import selectors
from .models import ApiToken, Deploy, Deployment, Workspace, WorkspaceMembership
from .services import deployments as deployment_services
from .services import deploys as deploy_services
from .services import tenancy, tokens


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        return tokens.token_authenticate(raw=token, ip=client_ip(request))


api = NinjaAPI(
    title="Airdock API", version="1", urls_namespace="api", auth=TokenAuth(),
    description="Deploy Astro projects from CI. Authenticate with `Authorization: Bearer adk_…`.",
)


def require_role(token: ApiToken, roles: frozenset, doing: str) -> None:
    if token.role not in roles:
        raise HttpError(403, f"This token's role ({token.role}) may not {doing}.")


def get_scoped(queryset: QuerySet, pk: int):
    """One object within the token's scope; anything else is a 404."""
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise HttpError(404, f"No {queryset.model._meta.verbose_name} {pk} here.")
    return obj


# ---- shapes --------------------------------------------------------------------------------


class WorkspaceIn(Schema):
    name: str
    description: str = ""


class DeploymentIn(Schema):
    name: str
    description: str = ""
    runtime_image: str = "astrocrpublic.azurecr.io/runtime:3.1-1"
    executor: Deployment.Executor = Deployment.Executor.CELERY
    worker_queues: list[dict] | None = None
    dag_deploy_enabled: bool = True
    pytest_by_default: bool = False
    git_url: str = ""
    git_branch: str = "main"
    git_subdir: str = ""


class RollbackIn(Schema):
    deploy_id: int


def workspace_out(workspace: Workspace) -> dict:
    return {"id": workspace.pk, "name": workspace.name, "description": workspace.description,
            "organization": workspace.organization.slug}


def deployment_out(deployment: Deployment) -> dict:
    return {
        "id": deployment.pk, "name": deployment.name, "workspace_id": deployment.workspace_id,
        "description": deployment.description, "status": deployment.status, "status_reason": deployment.status_reason,
        "runtime_image": deployment.runtime_image, "executor": deployment.executor,
        "worker_queues": deployment.worker_queues, "dag_deploy_enabled": deployment.dag_deploy_enabled,
        "pytest_by_default": deployment.pytest_by_default,
        "desired_image": deployment.desired_image, "desired_image_tag": deployment.desired_image_tag,
        "desired_image_digest": deployment.desired_image_digest,
        "desired_dag_bundle_version": deployment.desired_dag_bundle_version,
        "desired_airflow_version": deployment.desired_airflow_version,
        "current_deploy_id": deployment.current_deploy_id,
        "git": {"url": deployment.git_url_shown, "branch": deployment.git_branch, "subdir": deployment.git_subdir},
        "components": [],  # filled in by the runtime: what each Airflow component really runs
    }


def deploy_out(request: HttpRequest, deploy: Deploy) -> dict:
    return {
        "id": deploy.pk, "deployment_id": deploy.deployment_id,
        "url": request.build_absolute_uri(deploy.get_absolute_url()),
        "api_url": request.build_absolute_uri(f"/api/v1/deploys/{deploy.pk}"),
        "kind": deploy.kind.lower(), "state": deploy.state, "force": deploy.force, "run_pytest": deploy.run_pytest,
        "description": deploy.description, "is_rollback": deploy.is_rollback,
        "source_deploy_id": deploy.source_deploy_id, "git_commit": deploy.git_commit,
        "created_at": deploy.created_at, "started_at": deploy.started_at, "finished_at": deploy.finished_at,
        "steps": [
            {"name": s.name, "state": s.state, "started_at": s.started_at, "finished_at": s.finished_at, "message": s.message}
            for s in deploy.steps.all()
        ],
        "image": deploy.image, "image_tag": deploy.image_tag, "image_digest": deploy.image_digest,
        "dag_bundle_version": deploy.dag_bundle_version,
        "runtime_requested": deploy.runtime_requested, "runtime_image_used": deploy.runtime_image_used,
        "airflow_version": deploy.airflow_version, "airflow_change": deploy.airflow_change,
        "parse_results": deploy.parse_results, "test_results": deploy.test_results,
        "warnings": deploy.warnings, "error": deploy.error,
    }


# ---- workspaces and deployments -----------------------------------------------------------------


@api.post("/workspaces", response={201: dict})
def create_workspace(request: HttpRequest, payload: WorkspaceIn):
    token: ApiToken = request.auth
    if token.workspace_id or token.role != WorkspaceMembership.Role.OWNER:
        raise HttpError(403, "Creating workspaces needs an organization-scoped token with the owner role.")
    try:
        workspace = tenancy.workspace_create(organization=token.organization, name=payload.name, description=payload.description)
    except tenancy.TenancyError as exc:
        raise HttpError(400, str(exc)) from exc
    return 201, workspace_out(workspace)


@api.get("/workspaces", response=list[dict])
def list_workspaces(request: HttpRequest):
    return [workspace_out(w) for w in selectors.token_workspaces(request.auth).select_related("organization")]


@api.get("/workspaces/{workspace_id}", response=dict)
def get_workspace(request: HttpRequest, workspace_id: int):
    return workspace_out(get_scoped(selectors.token_workspaces(request.auth).select_related("organization"), workspace_id))


@api.post("/workspaces/{workspace_id}/deployments", response={201: dict})
def create_deployment(request: HttpRequest, workspace_id: int, payload: DeploymentIn):
    token: ApiToken = request.auth
    workspace = get_scoped(selectors.token_workspaces(token), workspace_id)
    if token.deployment_id:
        raise HttpError(403, "A deployment-scoped token cannot create deployments.")
    require_role(token, selectors.MANAGE_ROLES, "create deployments")
    fields = payload.dict()
    if fields["worker_queues"] is None:
        fields.pop("worker_queues")
    try:
        from django.core.exceptions import ValidationError

        deployment = Deployment(workspace=workspace, **fields)
        deployment.full_clean(exclude=["workspace"], validate_unique=False)
        name = fields.pop("name")
        deployment = deployment_services.deployment_create(workspace=workspace, name=name, **fields)
    except ValidationError as exc:
        raise HttpError(400, "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
    except deployment_services.DeploymentError as exc:
        raise HttpError(400, str(exc)) from exc
    return 201, deployment_out(deployment)


@api.get("/workspaces/{workspace_id}/deployments", response=list[dict])
def list_deployments(request: HttpRequest, workspace_id: int):
    workspace = get_scoped(selectors.token_workspaces(request.auth), workspace_id)
    return [deployment_out(d) for d in selectors.token_deployments(request.auth).filter(workspace=workspace)]


@api.get("/deployments/{deployment_id}", response=dict)
def get_deployment(request: HttpRequest, deployment_id: int):
    return deployment_out(get_scoped(selectors.token_deployments(request.auth), deployment_id))


# ---- deploys ------------------------------------------------------------------------------------


@api.post("/deployments/{deployment_id}/deploys", response={202: dict, 200: dict})
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
    token: ApiToken = request.auth
    deployment = get_scoped(selectors.token_deployments(token).select_related("workspace__organization"), deployment_id)
    require_role(token, selectors.DEPLOY_ROLES, "deploy")
    key = request.headers.get("Idempotency-Key", "")
    try:
        deploy = deploy_services.deploy_create(
            deployment=deployment, user=None, token=token, ip=client_ip(request), kind=kind, archive=archive,
            image_name=image_name, description=description, force=force, run_pytest=pytest, test_path=test_path,
            idempotency_key=key,
        )
    except deploy_services.DeployConflict as exc:
        raise HttpError(409, str(exc)) from exc
    except deploy_services.DeployError as exc:
        raise HttpError(400, str(exc)) from exc
    return 202, deploy_out(request, deploy)


@api.get("/deployments/{deployment_id}/deploys", response=list[dict])
def list_deploys(request: HttpRequest, deployment_id: int, limit: int = 20):
    deployment = get_scoped(selectors.token_deployments(request.auth), deployment_id)
    return [deploy_out(request, d) for d in deployment.deploys.prefetch_related("steps")[: max(1, min(limit, 200))]]


@api.get("/deploys/{deploy_id}", response=dict)
def get_deploy(request: HttpRequest, deploy_id: int):
    return deploy_out(request, get_scoped(selectors.token_deploys(request.auth), deploy_id))


@api.get("/deploys/{deploy_id}/log", response=dict)
def get_deploy_log(request: HttpRequest, deploy_id: int, offset: int = 0, limit: int = 1000):
    """Log lines after `offset` (a sequence number); pass back `next_offset` to follow the log."""
    deploy = get_scoped(selectors.token_deploys(request.auth), deploy_id)
    lines = list(deploy.log_lines.filter(seq__gt=offset).order_by("seq").values("seq", "step", "text")[: max(1, min(limit, 5000))])
    return {
        "deploy_id": deploy.pk, "state": deploy.state, "finished": not deploy.is_active,
        "lines": lines, "next_offset": lines[-1]["seq"] if lines else offset,
    }


@api.post("/deployments/{deployment_id}/rollback", response={202: dict})
def rollback(request: HttpRequest, deployment_id: int, payload: RollbackIn):
    token: ApiToken = request.auth
    deployment = get_scoped(selectors.token_deployments(token).select_related("workspace__organization"), deployment_id)
    require_role(token, selectors.DEPLOY_ROLES, "roll back")
    try:
        deploy = deploy_services.deployment_rollback(
            deployment=deployment, deploy_id=payload.deploy_id, token=token, ip=client_ip(request)
        )
    except deploy_services.DeployConflict as exc:
        raise HttpError(409, str(exc)) from exc
    except deploy_services.DeployError as exc:
        raise HttpError(400, str(exc)) from exc
    return 202, deploy_out(request, deploy)



