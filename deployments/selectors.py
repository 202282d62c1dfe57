"""Reads of deployments, deploys, their logs and API tokens. Everything a user or a token can reach
is built from the user's memberships (tenancy.selectors) or the token's scope."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max, OuterRef, Q, QuerySet, Subquery

from tenancy.models import Organization, Workspace
from tenancy.selectors import (  # noqa: F401 - the access questions views ask, in one place
    DEPLOY_ROLES,
    MANAGE_ROLES,
    WorkspaceRole,
    can_deploy,
    can_manage,
    get_or_404,
    workspace_role,
    workspaces_for_user,
)

from .models import (
    ApiToken,
    ComponentLogLine,
    Deploy,
    Deployment,
    DeployStep,
    EnvironmentVariable,
    Rollout,
    component_resources,
)
from .models.options import DEFAULT_RESOURCES

LOG_PAGE_MAX = 5000  # log lines one request (page, API call, socket snapshot) gets at most


def deployments_for_user(user: AbstractBaseUser) -> QuerySet[Deployment]:
    return Deployment.objects.filter(workspace__in=workspaces_for_user(user))


def deploys_for_user(user: AbstractBaseUser) -> QuerySet[Deploy]:
    return Deploy.objects.filter(deployment__in=deployments_for_user(user))


def _with_latest_attempt(deployments: QuerySet[Deployment]) -> QuerySet[Deployment]:
    """Annotate the latest deploy (any state) beside the live one: a failed CI deploy shows."""
    latest = Deploy.objects.filter(deployment=OuterRef("pk")).order_by("-pk")
    return deployments.annotate(
        latest_deploy_id=Subquery(latest.values("pk")[:1]),
        latest_deploy_state=Subquery(latest.values("state")[:1]),
    )


def dashboard_deployments(user: AbstractBaseUser, *, search: str = "", status: str = "") -> QuerySet[Deployment]:
    """The deployments the user can see (named or in a workspace named like `search`, in `status`),
    with what the dashboard shows, in a bounded number of queries."""
    found = deployments_for_user(user)
    if search:
        found = found.filter(Q(name__icontains=search) | Q(workspace__name__icontains=search))
    if status in Deployment.Status.values:
        found = found.filter(status=status)
    return _with_latest_attempt(
        found.select_related("workspace__organization", "current_deploy")
        .order_by("workspace__organization__name", "workspace__name", "name", "pk")
    )


def workspace_deployments(workspace: Workspace) -> QuerySet[Deployment]:
    return _with_latest_attempt(workspace.deployments.select_related("current_deploy"))


def organization_deployment(organization: Organization, pk: int | str) -> Deployment:
    return get_or_404(Deployment.objects.filter(workspace__organization=organization), pk=pk)


def deployment_deploys(deployment: Deployment, *, state: str = "", kind: str = "", by: str = "") -> QuerySet[Deploy]:
    """A deployment's deploys, newest first, filtered as the deployment page's filters say."""
    deploys = deployment.deploys.select_related("created_by", "created_by_token")
    if state in Deploy.State.values:
        deploys = deploys.filter(state=state)
    if kind in Deploy.Kind.values:
        deploys = deploys.filter(kind=kind)
    if by:
        deploys = deploys.filter(created_by__username__icontains=by)
    return deploys


def deployment_recent_finished(deployment: Deployment, count: int = 20) -> list[Deploy]:
    """The last `count` deploys that ran to an end, oldest first (for the duration chart)."""
    recent = deployment.deploys.only("pk", "state", "started_at", "finished_at")[:count]
    return [d for d in recent if d.duration][::-1]


def deploy_steps(deploy: Deploy) -> list[DeployStep]:
    return list(deploy.steps.all())


def deploy_log_after(deploy: Deploy, after: int = 0, limit: int | None = LOG_PAGE_MAX) -> list[dict]:
    """Log lines after sequence number `after`, oldest first: {seq, step, text}, at most LOG_PAGE_MAX
    (`limit=None`: the whole log). From the rows of a running deploy and the compressed chunks of an
    ended one; rows are read first, so a deploy packed in between is read twice, never missed."""
    cap = None if limit is None else max(1, min(limit, LOG_PAGE_MAX))
    rows = deploy.log_lines.filter(seq__gt=after).order_by("seq").values("seq", "step", "text")
    found = {line["seq"]: line for line in (rows if cap is None else rows[:cap])}
    packed = 0
    for chunk in deploy.log_chunks.filter(last_seq__gt=after).order_by("first_seq").iterator():
        for line in chunk.lines():
            if line["seq"] > after:
                found.setdefault(line["seq"], line)
                packed += 1
        if cap is not None and packed >= cap:
            break
    lines = [found[seq] for seq in sorted(found)]
    return lines if cap is None else lines[:cap]


def deploy_log_last_seq(deploy: Deploy) -> int:
    rows = deploy.log_lines.aggregate(m=Max("seq"))["m"] or 0
    return max(rows, deploy.log_chunks.aggregate(m=Max("last_seq"))["m"] or 0)


def deploy_log_text(deploy: Deploy, step: str = "") -> str:
    return "\n".join(line["text"] for line in deploy_log_after(deploy, limit=None) if not step or line["step"] == step)


def variables_for(deployment: Deployment) -> list[dict]:
    """The deployment's environment variables for pages and the API: {key, value, is_secret,
    updated_at}, by key; `value` is None for a secret (secrets are not even decrypted here)."""
    variables = EnvironmentVariable.objects.filter(deployment=deployment)
    plain = dict(variables.filter(is_secret=False).values_list("key", "value"))
    return [
        {"key": key, "value": None if is_secret else plain.get(key, ""), "is_secret": is_secret, "updated_at": updated_at}
        for key, is_secret, updated_at in variables.order_by("key").values_list("key", "is_secret", "updated_at")
    ]


def runtime_environment(deployment: Deployment) -> tuple[dict[str, str], dict[str, str]]:
    """For the data plane: (plain key -> value, secret key -> value) of the deployment's variables."""
    plain: dict[str, str] = {}
    secret: dict[str, str] = {}
    for key, value, is_secret in EnvironmentVariable.objects.filter(deployment=deployment).values_list("key", "value", "is_secret"):
        (secret if is_secret else plain)[key] = value or ""
    return plain, secret


def worker_queues_shown(deployment: Deployment) -> list[dict]:
    """Each queue's settings with its effective resources, and what the autoscaler runs now."""
    shown = []
    for queue in deployment.worker_queues:
        state = deployment.runtime_autoscale.get(queue["name"]) or {}
        workers = 0 if deployment.hibernating or not deployment.desired_image_digest else \
            min(max(int(state.get("workers", queue["min_workers"])), queue["min_workers"]), queue["max_workers"])
        shown.append({**queue, **component_resources(deployment.resources, deployment.worker_queues, f"worker-{queue['name']}"),
                      "workers": workers, "waiting": state.get("waiting"), "running": state.get("running")})
    return shown


def resources_shown(deployment: Deployment) -> dict[str, dict]:
    """The effective CPU and memory of each component of the deployment's Airflow line."""
    names = [n for n in DEFAULT_RESOURCES if n != "worker"]
    if deployment.airflow_major:  # the components of its line only
        names = [n for n in names if n not in (("webserver",) if deployment.airflow_major >= 3 else ("api-server", "dag-processor"))]
    return {name: component_resources(deployment.resources, deployment.worker_queues, name) for name in names}


def component_log_lines(deployment: Deployment, *, component: str = "", search: str = "", since=None, until=None,
                        after: int | None = None, limit: int = 500) -> list[ComponentLogLine]:
    """The deployment's component log lines that match, oldest first: the last `limit` of them, or,
    with `after` (an id), the first `limit` after it (to follow a log)."""
    lines = ComponentLogLine.objects.filter(deployment=deployment)
    if component:
        lines = lines.filter(component=component)
    if search:
        lines = lines.filter(text__icontains=search)
    if since is not None:
        lines = lines.filter(logged_at__gte=since)
    if until is not None:
        lines = lines.filter(logged_at__lte=until)
    if after is not None:
        return list(lines.filter(id__gt=after).order_by("id")[:limit])
    return list(lines.order_by("-id")[:limit])[::-1]


def component_log_last_id(deployment: Deployment) -> int:
    return ComponentLogLine.objects.filter(deployment=deployment).order_by("-id").values_list("id", flat=True).first() or 0


def component_log_names(deployment: Deployment) -> list[str]:
    """The components that have logged, and those the data plane runs."""
    logged = set(ComponentLogLine.objects.filter(deployment=deployment).values_list("component", flat=True).distinct())
    return sorted(logged | {c["name"] for c in deployment.runtime_components})


def deployment_rollouts(deployment: Deployment, count: int = 20) -> list[Rollout]:
    return list(deployment.rollouts.all()[:count])


def webhook_deployment(pk: int) -> Deployment | None:
    """The deployment a push webhook names, if it takes webhooks (a git URL and a secret)."""
    return Deployment.objects.filter(pk=pk).filter(webhook_secret__isnull=False, git_url__isnull=False).first()


def token_scope_choices(organization: Organization) -> list[tuple[str, str]]:
    """Where a new token of the organization may act: the organization, a workspace, a deployment."""
    choices = [("org", f"Organization {organization.name}")]
    for ws in organization.workspaces.prefetch_related("deployments"):
        choices.append((f"ws:{ws.pk}", f"Workspace {ws.name}"))
        choices += [(f"dep:{d.pk}", f"Deployment {ws.name} / {d.name}") for d in ws.deployments.all()]
    return choices


def organization_tokens(organization: Organization) -> QuerySet[ApiToken]:
    return organization.api_tokens.select_related("workspace", "deployment", "created_by")


# ---- API tokens: the same questions, answered from the token's scope and role ------------------


def token_workspaces(token: ApiToken) -> QuerySet[Workspace]:
    workspaces = Workspace.objects.filter(organization=token.organization)
    if token.workspace_id:
        workspaces = workspaces.filter(pk=token.workspace_id)
    return workspaces


def token_deployments(token: ApiToken) -> QuerySet[Deployment]:
    deployments = Deployment.objects.filter(workspace__in=token_workspaces(token))
    if token.deployment_id:
        deployments = deployments.filter(pk=token.deployment_id)
    return deployments


def token_deploys(token: ApiToken) -> QuerySet[Deploy]:
    return Deploy.objects.filter(deployment__in=token_deployments(token))
