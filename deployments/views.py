"""Pages. Each view reads through selectors (scoped to the user) and writes through services."""
from __future__ import annotations

import json
import tempfile
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from . import selectors
from .forms import DeployForm, DeploymentForm, TokenForm, WorkspaceForm
from .models import Deploy, Deployment
from .services import archives
from .services import git as git_services
from .services import tokens as token_services
from .services.audit import Actor
from .services import deployments as deployment_services
from .services import deploys as deploy_services
from .services import tenancy


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "deployments/dashboard.html", {
        "deployments": selectors.dashboard_deployments(request.user),
        "organizations": selectors.organizations_for_user(request.user),
    })


@login_required
def organization_detail(request: HttpRequest, slug: str) -> HttpResponse:
    organization = selectors.get_or_404(selectors.organizations_for_user(request.user), slug=slug)
    is_owner = selectors.is_organization_owner(request.user, organization)
    return render(request, "deployments/organization_detail.html", {
        "organization": organization,
        "workspaces": selectors.workspaces_for_user(request.user).filter(organization=organization),
        "members": organization.memberships.select_related("user") if is_owner else None,
        "is_owner": is_owner,
    })


@login_required
@require_http_methods(["GET", "POST"])
def workspace_create(request: HttpRequest, slug: str) -> HttpResponse:
    organization = selectors.get_or_404(selectors.organizations_for_user(request.user), slug=slug)
    if not selectors.is_organization_owner(request.user, organization):
        raise PermissionDenied("Only organization owners create workspaces.")
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = tenancy.workspace_create(
                organization=organization, created_by=request.user, **form.cleaned_data
            )
        except tenancy.TenancyError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Workspace {workspace.name} created.")
            return redirect(workspace)
    return render(request, "deployments/form.html", {
        "form": form, "title": f"New workspace in {organization.name}", "cancel_url": organization.get_absolute_url(),
    })


@login_required
def workspace_detail(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = selectors.get_or_404(
        selectors.workspaces_for_user(request.user).select_related("organization"), pk=pk
    )
    role = selectors.workspace_role(request.user, workspace)
    return render(request, "deployments/workspace_detail.html", {
        "workspace": workspace,
        "deployments": workspace.deployments.select_related("current_deploy"),
        "members": workspace.memberships.select_related("user").order_by("user__username"),
        "role": role,
        "can_manage": role in selectors.MANAGE_ROLES,
        "is_owner": role == selectors.WorkspaceRole.OWNER,
    })


@login_required
@require_http_methods(["GET", "POST"])
def workspace_edit(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = selectors.get_or_404(selectors.workspaces_for_user(request.user), pk=pk)
    if selectors.workspace_role(request.user, workspace) != selectors.WorkspaceRole.OWNER:
        raise PermissionDenied("Only workspace owners edit a workspace.")
    form = WorkspaceForm(request.POST or None, instance=workspace)
    if request.method == "POST" and form.is_valid():
        tenancy.workspace_update(workspace=workspace, **form.cleaned_data)
        messages.success(request, "Workspace saved.")
        return redirect(workspace)
    return render(request, "deployments/form.html", {
        "form": form, "title": f"Edit workspace {workspace.name}", "cancel_url": workspace.get_absolute_url(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def deployment_create(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = selectors.get_or_404(selectors.workspaces_for_user(request.user), pk=pk)
    if not selectors.can_manage(request.user, workspace):
        raise PermissionDenied("Only workspace owners and operators create deployments.")
    form = DeploymentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            deployment = deployment_services.deployment_create(workspace=workspace, **form.cleaned_data)
        except deployment_services.DeploymentError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Deployment {deployment.name} created.")
            return redirect(deployment)
    return render(request, "deployments/form.html", {
        "form": form, "title": f"New deployment in {workspace.name}", "cancel_url": workspace.get_absolute_url(),
    })


@login_required
def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = selectors.get_or_404(
        selectors.deployments_for_user(request.user).select_related("workspace__organization", "current_deploy"),
        pk=pk,
    )
    return render(request, "deployments/deployment_detail.html", _deployment_context(request, deployment))


def _deployment_context(request: HttpRequest, deployment, form: DeployForm | None = None) -> dict:
    role = selectors.workspace_role(request.user, deployment.workspace)
    deploys = deployment.deploys.select_related("created_by", "created_by_token")
    filters = {k: request.GET.get(k, "") for k in ("state", "kind", "by")}
    if filters["state"] in Deploy.State.values:
        deploys = deploys.filter(state=filters["state"])
    if filters["kind"] in Deploy.Kind.values:
        deploys = deploys.filter(kind=filters["kind"])
    if filters["by"]:
        deploys = deploys.filter(created_by__username__icontains=filters["by"])
    recent = [d for d in deployment.deploys.only("pk", "state", "started_at", "finished_at")[:20] if d.duration][::-1]
    longest = max([d.duration.total_seconds() for d in recent] + [0.001])
    return {
        "deployment": deployment,
        "deploys": deploys[:50],
        "filters": filters,
        "states": Deploy.State.choices,
        "kinds": Deploy.Kind.choices,
        "duration_chart": [(d, round(d.duration.total_seconds(), 1), round(100 * d.duration.total_seconds() / longest)) for d in recent],
        "can_manage": role in selectors.MANAGE_ROLES,
        "can_deploy": role in selectors.DEPLOY_ROLES,
        "deploy_form": form or DeployForm(initial={"run_pytest": deployment.pytest_by_default}),
    }


@login_required
def deployment_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the deployment page (versions, history), swapped in place by the page."""
    deployment = selectors.get_or_404(
        selectors.deployments_for_user(request.user).select_related("workspace__organization", "current_deploy"), pk=pk
    )
    return render(request, "deployments/_deployment_panel.html", _deployment_context(request, deployment))


@login_required
def dashboard_row(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = selectors.get_or_404(selectors.dashboard_deployments(request.user), pk=pk)
    return render(request, "deployments/_dashboard_row.html", {"d": deployment})


@login_required
@require_http_methods(["GET", "POST"])
def deployment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = selectors.get_or_404(
        selectors.deployments_for_user(request.user).select_related("workspace"), pk=pk
    )
    if not selectors.can_manage(request.user, deployment.workspace):
        raise PermissionDenied("Only workspace owners and operators change deployments.")
    form = DeploymentForm(request.POST or None, instance=deployment)
    if request.method == "POST" and form.is_valid():
        try:
            deployment_services.deployment_update(deployment=deployment, **form.cleaned_data)
        except deployment_services.DeploymentError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Deployment saved.")
            return redirect(deployment)
    return render(request, "deployments/form.html", {
        "form": form, "title": f"Edit deployment {deployment.name}", "cancel_url": deployment.get_absolute_url(),
    })


def _uploaded_archive(request: HttpRequest):
    """The uploaded archive, or the files of a folder picked in the browser packed as one."""
    if request.FILES.get("archive"):
        return request.FILES["archive"]
    files = request.FILES.getlist("folder")
    if not files:
        return None
    try:
        paths = json.loads(request.POST.get("folder_paths", "[]"))
    except json.JSONDecodeError:
        paths = None
    if not isinstance(paths, list) or len(paths) != len(files) or not all(isinstance(p, str) for p in paths):
        raise deploy_services.DeployError("The folder upload lost its file paths; pick the folder again or upload an archive.")
    packed = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    try:
        archives.archive_from_files([(p, f, f.size) for p, f in zip(paths, files)], packed)
    except archives.ArchiveError as exc:
        raise deploy_services.DeployError(str(exc)) from exc
    return packed


@login_required
@require_http_methods(["POST"])
def deploy_create(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = selectors.get_or_404(
        selectors.deployments_for_user(request.user).select_related("workspace__organization"), pk=pk
    )
    if not selectors.can_deploy(request.user, deployment.workspace):
        raise PermissionDenied("Members may look, not deploy: ask a workspace owner for the author role.")
    form = DeployForm(request.POST, request.FILES)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            archive = _uploaded_archive(request)
            deploy = deploy_services.deploy_create(
                deployment=deployment, user=request.user, kind=data["kind"], archive=archive,
                image_name=data["image_name"], description=data["description"], force=data["force"],
                run_pytest=data["run_pytest"] or bool(data["test_path"]),
                test_path=data["test_path"],
            )
        except deploy_services.DeployConflict as exc:
            form.add_error(None, str(exc))
            status = 409
        except deploy_services.DeployError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Deploy {deploy.pk} queued.")
            return redirect(deploy)
    return render(request, "deployments/deployment_detail.html", _deployment_context(request, deployment, form), status=status)


def _deploy_for_page(request: HttpRequest, pk: int) -> Deploy:
    return selectors.get_or_404(
        selectors.deploys_for_user(request.user).select_related(
            "deployment__workspace__organization", "created_by", "created_by_token", "source_deploy"
        ),
        pk=pk,
    )


def _deploy_context(request: HttpRequest, deploy: Deploy) -> dict:
    steps = list(deploy.steps.all())
    done = sum(1 for s in steps if s.state not in ("PENDING", "RUNNING"))
    files = (deploy.parse_results or {}).get("files") or []
    slowest = max([f.get("seconds") or 0 for f in files] + [0.001])
    return {
        "deploy": deploy,
        "steps": steps,
        "progress": round(100 * done / len(steps)) if steps else 0,
        "parse_chart": [(f["file"], f.get("seconds") or 0, round(100 * (f.get("seconds") or 0) / slowest)) for f in files],
        "can_deploy": selectors.can_deploy(request.user, deploy.deployment.workspace),
    }


@login_required
def deploy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deploy = _deploy_for_page(request, pk)
    lines = list(deploy.log_lines.only("seq", "text"))
    return render(request, "deployments/deploy_detail.html", {
        **_deploy_context(request, deploy), "log_lines": lines, "last_seq": lines[-1].seq if lines else 0,
    })


@login_required
def deploy_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the deploy page (state, steps, checks), swapped in place by the page."""
    return render(request, "deployments/_deploy_panel.html", _deploy_context(request, _deploy_for_page(request, pk)))


@login_required
def deploy_log_json(request: HttpRequest, pk: int) -> JsonResponse:
    """Log lines after `after` (a sequence number): the page's fallback while its socket is down."""
    deploy = _deploy_for_page(request, pk)
    try:
        after = int(request.GET.get("after", 0))
    except ValueError:
        after = 0
    lines = list(deploy.log_lines.filter(seq__gt=after).order_by("seq").values("seq", "step", "text")[:5000])
    return JsonResponse({"state": deploy.state, "lines": lines})


def _deploy_to_act_on(request: HttpRequest, pk: int):
    """A deploy of the user's, which the user may deploy or cancel (404 if foreign, 403 if read-only)."""
    deploy = selectors.get_or_404(selectors.deploys_for_user(request.user).select_related("deployment__workspace"), pk=pk)
    if not selectors.can_deploy(request.user, deploy.deployment.workspace):
        raise PermissionDenied("Members may look, not deploy or cancel.")
    return deploy


@login_required
@require_http_methods(["POST"])
def deploy_redeploy(request: HttpRequest, pk: int) -> HttpResponse:
    deploy = _deploy_to_act_on(request, pk)
    try:
        new = deploy_services.deploy_redeploy(deploy=deploy, user=request.user)
    except deploy_services.DeployError as exc:
        messages.error(request, str(exc))
        return redirect(deploy)
    messages.success(request, f"Deploy {new.pk} queued: building deploy {deploy.pk}'s project again.")
    return redirect(new)


@login_required
@require_http_methods(["POST"])
def deploy_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    deploy = _deploy_to_act_on(request, pk)
    if deploy_services.deploy_cancel(deploy=deploy, user=request.user):
        messages.success(request, f"Deploy {deploy.pk} cancelled; the deployment keeps what it ran.")
    else:
        messages.error(request, f"Deploy {deploy.pk} had already ended.")
    return redirect(deploy)


def _actor(request: HttpRequest) -> Actor:
    return Actor(user=request.user, ip=request.META.get("REMOTE_ADDR"))


@login_required
@require_http_methods(["GET", "POST"])
def organization_tokens(request: HttpRequest, slug: str) -> HttpResponse:
    organization = selectors.get_or_404(selectors.organizations_for_user(request.user), slug=slug)
    if not selectors.is_organization_owner(request.user, organization):
        raise PermissionDenied("Only organization owners manage API tokens.")
    form = TokenForm(request.POST or None, organization=organization)
    created = None
    if request.method == "POST" and "revoke" in request.POST:
        token = selectors.get_or_404(organization.api_tokens.all(), pk=request.POST.get("revoke"))
        token_services.token_revoke(token=token, actor=_actor(request))
        messages.success(request, f"Token {token} revoked.")
        return redirect("organization_tokens", slug=slug)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kind, _, pk = data["scope"].partition(":")
        workspace = organization.workspaces.get(pk=pk) if kind == "ws" else None
        deployment = Deployment.objects.get(pk=pk, workspace__organization=organization) if kind == "dep" else None
        expires = timezone.now() + timedelta(days=data["expires_in_days"]) if data["expires_in_days"] else None
        try:
            _, created = token_services.token_create(
                organization=organization, workspace=workspace, deployment=deployment, role=data["role"],
                name=data["name"], expires_at=expires, actor=_actor(request),
            )
        except token_services.TokenError as exc:
            form.add_error(None, str(exc))
    return render(request, "deployments/tokens.html", {
        "organization": organization, "form": form, "created": created,
        "tokens": organization.api_tokens.select_related("workspace", "deployment", "created_by"),
    })


@login_required
def organization_audit(request: HttpRequest, slug: str) -> HttpResponse:
    organization = selectors.get_or_404(selectors.organizations_for_user(request.user), slug=slug)
    events = selectors.organization_audit_events(request.user, organization)
    if events is None:
        raise PermissionDenied("Only organization owners read the audit log.")
    return render(request, "deployments/audit.html", {"organization": organization, "events": events[:500]})


@login_required
@require_http_methods(["POST"])
def deployment_git_deploy(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = selectors.get_or_404(selectors.deployments_for_user(request.user).select_related("workspace__organization"), pk=pk)
    if not selectors.can_deploy(request.user, deployment.workspace):
        raise PermissionDenied("Members may look, not deploy.")
    try:
        deploy = git_services.deploy_from_git(deployment=deployment, user=request.user, ip=request.META.get("REMOTE_ADDR"))
    except deploy_services.DeployError as exc:
        messages.error(request, str(exc))
        return redirect(deployment)
    messages.success(request, f"Deploy {deploy.pk} queued from {deployment.git_branch} @ {deploy.git_commit[:12]}.")
    return redirect(deploy)


@login_required
@require_http_methods(["POST"])
def deploy_rollback(request: HttpRequest, pk: int) -> HttpResponse:
    deploy = _deploy_to_act_on(request, pk)
    try:
        new = deploy_services.deployment_rollback(
            deployment=deploy.deployment, deploy_id=deploy.pk, user=request.user, ip=request.META.get("REMOTE_ADDR")
        )
    except deploy_services.DeployError as exc:
        messages.error(request, str(exc))
        return redirect(deploy)
    messages.success(request, f"Deploy {new.pk} queued: rolling back to deploy {deploy.pk}.")
    return redirect(new)
