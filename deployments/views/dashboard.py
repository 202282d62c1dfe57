"""The dashboard (every deployment the user can see) and a workspace's page."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenancy.selectors import organizations_for_user, workspace_members

from .. import selectors


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "deployments/dashboard.html", {
        "deployments": selectors.dashboard_deployments(request.user),
        "organizations": organizations_for_user(request.user),
    })


@login_required
def dashboard_row(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = selectors.get_or_404(selectors.dashboard_deployments(request.user), pk=pk)
    return render(request, "deployments/_dashboard_row.html", {"d": deployment})


@login_required
def workspace_detail(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = selectors.get_or_404(
        selectors.workspaces_for_user(request.user).select_related("organization"), pk=pk
    )
    role = selectors.workspace_role(request.user, workspace)
    return render(request, "deployments/workspace_detail.html", {
        "workspace": workspace,
        "deployments": selectors.workspace_deployments(workspace),
        "members": workspace_members(workspace),
        "role": role,
        "can_manage": role in selectors.MANAGE_ROLES,
        "is_owner": role == selectors.WorkspaceRole.OWNER,
    })
