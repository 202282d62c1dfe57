"""The dashboard (every deployment the user can see) and a workspace's page."""
from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenancy.selectors import organizations_for_user, workspace_members

from .. import selectors
from ..models import Deployment


DASHBOARD_PAGE = 50  # deployments a dashboard page shows


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The deployments the user can see, DASHBOARD_PAGE at a time, found by name or workspace (?q=)
    and status (?status=)."""
    query = {"q": request.GET.get("q", "").strip()[:100], "status": request.GET.get("status", "")}
    found = selectors.dashboard_deployments(request.user, search=query["q"], status=query["status"])
    page = Paginator(found, DASHBOARD_PAGE).get_page(request.GET.get("page"))
    return render(request, "deployments/dashboard.html", {
        "deployments": page.object_list, "page": page, "query": query, "statuses": Deployment.Status.choices,
        "organizations": organizations_for_user(request.user),
        "query_string": urlencode({k: v for k, v in query.items() if v}),
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
