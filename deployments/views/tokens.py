"""An organization's API tokens: create (the secret shown once) and revoke."""
from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from portal.web import form_submit
from tenancy.selectors import (
    is_organization_owner,
    organization_workspaces,
    organizations_for_user,
)

from .. import selectors
from ..forms import TokenForm
from ..services import tokens as token_services
from .deployments import actor


@login_required
@require_http_methods(["GET", "POST"])
def organization_tokens(request: HttpRequest, slug: str) -> HttpResponse:
    organization = selectors.get_or_404(organizations_for_user(request.user), slug=slug)
    if not is_organization_owner(request.user, organization):
        raise PermissionDenied("Only organization owners manage API tokens.")
    form = TokenForm(request.POST or None, scopes=selectors.token_scope_choices(organization))
    created = None
    if request.method == "POST" and "revoke" in request.POST:
        token = selectors.get_or_404(selectors.organization_tokens(organization), pk=request.POST.get("revoke"))
        token_services.token_revoke(token=token, actor=actor(request))
        messages.success(request, f"Token {token} revoked.")
        return redirect("organization_tokens", slug=slug)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kind, _, pk = data["scope"].partition(":")
        workspace = selectors.get_or_404(organization_workspaces(organization), pk=pk) if kind == "ws" else None
        deployment = selectors.organization_deployment(organization, pk) if kind == "dep" else None
        expires = timezone.now() + timedelta(days=data["expires_in_days"]) if data["expires_in_days"] else None
        made, _ = form_submit(form, lambda: token_services.token_create(
            organization=organization, workspace=workspace, deployment=deployment, role=data["role"],
            name=data["name"], expires_at=expires, actor=actor(request),
        ))
        created = made[1] if made else None
    return render(request, "deployments/tokens.html", {
        "organization": organization, "form": form, "created": created,
        "tokens": selectors.organization_tokens(organization),
    })
