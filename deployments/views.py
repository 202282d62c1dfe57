"""Pages. Each view reads through selectors (scoped to the user) and writes through services."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from . import selectors
from .forms import DeploymentForm, WorkspaceForm
from .services import deployments as deployment_services
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
    role = selectors.workspace_role(request.user, deployment.workspace)
    return render(request, "deployments/deployment_detail.html", {
        "deployment": deployment,
        "deploys": deployment.deploys.select_related("created_by")[:50],
        "can_manage": role in selectors.MANAGE_ROLES,
        "can_deploy": role in selectors.DEPLOY_ROLES,
    })


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
