"""The API's shapes: every input and output, so /api/v1/openapi.json names each field the CLI and
the README rely on. Outputs read model attributes; resolvers fill in what is computed."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema

from .. import selectors
from ..models import DEFAULT_RUNTIME_IMAGE, Deploy, Deployment


class ErrorOut(Schema):
    detail: str


class ConflictOut(ErrorOut):
    active_deploy_id: int | None = None


class WorkspaceIn(Schema):
    name: str
    description: str = ""


class WorkspaceOut(Schema):
    id: int
    name: str
    description: str
    organization: str

    @staticmethod
    def resolve_organization(obj) -> str:
        return obj.organization.slug


class DeploymentIn(Schema):
    name: str
    description: str = ""
    runtime_image: str = DEFAULT_RUNTIME_IMAGE
    executor: Deployment.Executor = Deployment.Executor.CELERY
    worker_queues: list[dict[str, Any]] | None = None  # checked by the service, with its own messages
    dag_deploy_enabled: bool = True
    pytest_by_default: bool = False
    git_url: str = ""
    git_branch: str = "main"
    git_subdir: str = ""
    worker_grace_period: int | None = None
    resources: dict[str, Any] | None = None  # {"scheduler": {"cpu": 1, "memory": 2048}}: checked by the service
    hibernation_schedules: list[dict[str, Any]] | None = None


class DeploymentPatch(Schema):
    """Only the settings given change; the others stay."""

    name: str | None = None
    description: str | None = None
    runtime_image: str | None = None
    executor: Deployment.Executor | None = None
    worker_queues: list[dict[str, Any]] | None = None
    dag_deploy_enabled: bool | None = None
    pytest_by_default: bool | None = None
    git_url: str | None = None
    git_branch: str | None = None
    git_subdir: str | None = None
    worker_grace_period: int | None = None
    resources: dict[str, Any] | None = None
    hibernation_schedules: list[dict[str, Any]] | None = None


class WorkerQueueOut(Schema):
    name: str
    min_workers: int
    max_workers: int
    concurrency: int
    cpu: float  # cores per worker (a limit)
    memory: int  # MiB per worker (a limit)
    workers: int  # what the autoscaler runs now
    waiting: int | None = None  # the queue's backlog as last read from the broker
    running: int | None = None


class ResourcesOut(Schema):
    cpu: float
    memory: int


class RolloutOut(Schema):
    id: int
    kind: str
    summary: str
    actor_name: str
    state: str  # ROLLING, DONE, FAILED, SUPERSEDED
    message: str
    created_at: datetime
    finished_at: datetime | None


class GitOut(Schema):
    url: str  # a token in it is masked
    branch: str
    subdir: str
    deploy_key: str  # the public half of the deployment's SSH deploy key ("" until one is made)


class ComponentOut(Schema):
    """One running Airflow component and what it really runs (filled in by the data plane)."""

    name: str
    state: str  # healthy, starting, draining (an old worker finishing its tasks), unhealthy, stopped
    replicas: int  # desired
    running: int  # tasks running now
    running_image_digest: str  # from the engine, per task (comma-separated while they differ)
    running_dag_bundle_version: str  # from the component's own agent
    reason: str = ""
    nodes: list[str] = []  # the swarm machines (host names) its running tasks are on
    memory_mib: int | None = None  # in use by its running containers, as their agents last said
    memory_limit_mib: int | None = None
    grace_ends_at: str | None = None  # draining: when the old worker is stopped at the latest


class DeploymentOut(Schema):
    id: int
    name: str
    workspace_id: int
    description: str
    status: Deployment.Status
    status_reason: str
    runtime_image: str
    executor: Deployment.Executor
    worker_queues: list[WorkerQueueOut]
    resources: dict[str, ResourcesOut]  # every component's effective CPU and memory limits
    hibernating: bool
    hibernation_schedules: list[dict[str, Any]]
    worker_grace_period: int
    dag_deploy_enabled: bool
    pytest_by_default: bool
    desired_image: str
    desired_image_tag: str
    desired_image_digest: str
    desired_dag_bundle_version: str
    desired_airflow_version: str
    runtime_version: str  # the Astro Runtime the current image is built on
    airflow_version: str  # and its Airflow
    current_deploy_id: int | None
    upgrade_readiness: dict[str, Any]  # the current project on newer Runtimes: {"targets": [{"runtime", "ready", "errors"}]}
    git: GitOut
    components: list[ComponentOut]

    @staticmethod
    def resolve_runtime_version(obj: Deployment) -> str:
        return obj.desired_runtime_version

    @staticmethod
    def resolve_airflow_version(obj: Deployment) -> str:
        return obj.desired_airflow_version

    @staticmethod
    def resolve_git(obj: Deployment) -> dict:
        return {"url": obj.git_url_shown, "branch": obj.git_branch, "subdir": obj.git_subdir,
                "deploy_key": obj.git_deploy_key_public}

    @staticmethod
    def resolve_worker_queues(obj: Deployment) -> list[dict]:
        return selectors.worker_queues_shown(obj)

    @staticmethod
    def resolve_resources(obj: Deployment) -> dict:
        return selectors.resources_shown(obj)

    @staticmethod
    def resolve_components(obj: Deployment) -> list:
        return obj.runtime_components  # as the data plane last observed them


class StepOut(Schema):
    name: Deploy.State
    state: str
    started_at: datetime | None
    finished_at: datetime | None
    message: str


class DeployOut(Schema):
    id: int
    deployment_id: int
    url: str
    api_url: str
    kind: str
    state: Deploy.State
    force: bool
    run_pytest: bool
    description: str
    is_rollback: bool
    source_deploy_id: int | None
    git_commit: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[StepOut]
    image: str
    image_tag: str
    image_digest: str
    dag_bundle_version: str
    runtime_requested: str
    runtime_image_used: str
    runtime_version: str
    airflow_version: str
    airflow_change: str
    parse_results: dict[str, Any]
    test_results: dict[str, Any]
    warnings: list[str]
    error: str

    @staticmethod
    def resolve_url(obj: Deploy, context) -> str:
        return context["request"].build_absolute_uri(obj.get_absolute_url())

    @staticmethod
    def resolve_api_url(obj: Deploy, context) -> str:
        return context["request"].build_absolute_uri(f"/api/v1/deploys/{obj.pk}")

    @staticmethod
    def resolve_kind(obj: Deploy) -> str:
        return obj.kind.lower()

    @staticmethod
    def resolve_steps(obj: Deploy) -> list:
        return list(obj.steps.all())


class LogLineOut(Schema):
    seq: int
    step: str
    text: str


class DeployLogOut(Schema):
    deploy_id: int
    state: Deploy.State
    finished: bool
    lines: list[LogLineOut]
    next_offset: int


class RollbackIn(Schema):
    deploy_id: int


class VariableIn(Schema):
    key: str
    value: str = ""
    is_secret: bool = False  # write-only from then on: its value is never answered


class VariableUpdateIn(Schema):
    value: str | None = None  # leave out to keep a plain variable's value (a secret needs a new one)
    is_secret: bool | None = None  # leave out to keep the kind; a secret cannot become plain


class VariableOut(Schema):
    key: str
    value: str | None  # null for a secret
    is_secret: bool
    updated_at: datetime

    @staticmethod
    def resolve_value(obj) -> str | None:
        """Never a secret's value, whatever the route hands in (a model or a selector's dict)."""
        if isinstance(obj, dict):
            return None if obj["is_secret"] else obj["value"]
        return None if obj.is_secret else obj.value


class VariablesImportIn(Schema):
    text: str  # a .env file: KEY=VALUE lines, export, comments, quotes
    is_secret: bool = False  # every variable of the file becomes a secret


class VariablesImportOut(Schema):
    created: int
    updated: int
    unchanged: int


class ComponentLogLineOut(Schema):
    id: int
    component: str
    task_id: str
    logged_at: datetime
    text: str


class ComponentLogsOut(Schema):
    lines: list[ComponentLogLineOut]
    last_id: int  # pass it as `after` to get the lines that come next


class ChannelIn(Schema):
    name: str
    kind: str = "webhook"  # webhook (signed JSON) or slack (incoming webhook)
    url: str
    events: list[str] | None = None  # deploy_succeeded, deploy_failed, deployment_unhealthy, deployment_healthy (all when left out)


class ChannelOut(Schema):
    id: int
    name: str
    kind: str
    url_shown: str  # scheme and host: the rest of an incoming webhook's URL is its token
    events: list[str]
    enabled: bool
    last_sent_at: datetime | None
    last_result: str


class ChannelCreatedOut(ChannelOut):
    signing_secret: str  # verify X-Airdock-Signature with it; shown only here


class ChannelTestOut(Schema):
    result: str  # the receiver's answer, e.g. "200 OK"
