"""Organization and workspace pages: read through selectors, write through services."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from portal.web import form_submit

from . import selectors, services
from .forms import WorkspaceForm


@login_required
def organization_detail(request: HttpRequest, slug: str) -> HttpResponse:
    organization = selectors.get_or_404(selectors.organizations_for_user(request.user), slug=slug)
    is_owner = selectors.is_organization_owner(request.user, organization)
    return render(request, "tenancy/organization_detail.html", {
        "organization": organization,
        "workspaces": selectors.workspaces_for_user(request.user).filter(organization=organization),
        "members": selectors.organization_members(organization) if is_owner else None,
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
        workspace, _ = form_submit(form, lambda: services.workspace_create(
            organization=organization, created_by=request.user, **form.cleaned_data
        ), field="name")
        if workspace is not None:
            messages.success(request, f"Workspace {workspace.name} created.")
            return redirect(workspace)
    return render(request, "form.html", {
        "form": form, "title": f"New workspace in {organization.name}", "cancel_url": organization.get_absolute_url(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def workspace_edit(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = selectors.get_or_404(selectors.workspaces_for_user(request.user), pk=pk)
    if selectors.workspace_role(request.user, workspace) != selectors.WorkspaceRole.OWNER:
        raise PermissionDenied("Only workspace owners edit a workspace.")
    form = WorkspaceForm(request.POST or None, instance=workspace)
    if request.method == "POST" and form.is_valid():
        saved, _ = form_submit(form, lambda: services.workspace_update(workspace=workspace, **form.cleaned_data), field="name")
        if saved is not None:
            messages.success(request, "Workspace saved.")
            return redirect(workspace)
    return render(request, "form.html", {
        "form": form, "title": f"Edit workspace {workspace.name}", "cancel_url": workspace.get_absolute_url(),
    })


@login_required
def organization_audit(request: HttpRequest, slug: str) -> HttpResponse:
    organization = selectors.get_or_404(selectors.organizations_for_user(request.user), slug=slug)
    events = selectors.organization_audit_events(request.user, organization)
    if events is None:
        raise PermissionDenied("Only organization owners read the audit log.")
    return render(request, "tenancy/audit.html", {"organization": organization, "events": events[:500]})
