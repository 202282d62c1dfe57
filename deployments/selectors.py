"""Reads. Every queryset a user can reach is built from that user's memberships."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from .models import (
    ApiToken, Deploy, Deployment, Organization, OrganizationMembership, Workspace, WorkspaceMembership,
)

WorkspaceRole = WorkspaceMembership.Role
MANAGE_ROLES = frozenset({WorkspaceRole.OWNER, WorkspaceRole.OPERATOR})
DEPLOY_ROLES = frozenset({WorkspaceRole.OWNER, WorkspaceRole.OPERATOR, WorkspaceRole.AUTHOR})


def organizations_for_user(user: AbstractBaseUser) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user)


def is_organization_owner(user: AbstractBaseUser, organization: Organization) -> bool:
    return OrganizationMembership.objects.filter(
        organization=organization, user=user, role=OrganizationMembership.Role.OWNER
    ).exists()


def workspaces_for_user(user: AbstractBaseUser) -> QuerySet[Workspace]:
    """Workspaces of organizations the user owns, and those the user is a member of."""
    owned_org = OrganizationMembership.objects.filter(
        organization=OuterRef("organization"), user=user, role=OrganizationMembership.Role.OWNER
    )
    member = WorkspaceMembership.objects.filter(workspace=OuterRef("pk"), user=user)
    if not getattr(user, "is_authenticated", False):
        return Workspace.objects.none()
    return Workspace.objects.filter(Q(Exists(owned_org)) | Q(Exists(member)))


def deployments_for_user(user: AbstractBaseUser) -> QuerySet[Deployment]:
    return Deployment.objects.filter(workspace__in=workspaces_for_user(user))


def deploys_for_user(user: AbstractBaseUser) -> QuerySet[Deploy]:
    return Deploy.objects.filter(deployment__in=deployments_for_user(user))


def workspace_role(user: AbstractBaseUser, workspace: Workspace) -> str | None:
    """Return the user's effective role in a workspace (organization owners act as owners)."""
    if not getattr(user, "is_authenticated", False):
        return None
    if is_organization_owner(user, workspace.organization):
        return WorkspaceRole.OWNER
    membership = WorkspaceMembership.objects.filter(workspace=workspace, user=user).first()
    return membership.role if membership else None


def can_manage(user: AbstractBaseUser, workspace: Workspace) -> bool:
    return workspace_role(user, workspace) in MANAGE_ROLES


def can_deploy(user: AbstractBaseUser, workspace: Workspace) -> bool:
    return workspace_role(user, workspace) in DEPLOY_ROLES


def get_or_404(queryset: QuerySet, **lookup):
    """Fetch one object from a user-scoped queryset; a foreign or missing one is a 404."""
    try:
        return queryset.get(**lookup)
    except queryset.model.DoesNotExist as exc:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from exc


def dashboard_deployments(user: AbstractBaseUser) -> QuerySet[Deployment]:
    """Every deployment the user can see, with what the dashboard shows, in a bounded number of queries."""
    return (
        deployments_for_user(user)
        .select_related("workspace__organization", "current_deploy")
        .order_by("workspace__organization__name", "workspace__name", "name")
    )


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


def organization_audit_events(user: AbstractBaseUser, organization: Organization):
    """The organization's audit log, for its owners only (None for anyone else)."""
    if not is_organization_owner(user, organization):
        return None
    return organization.audit_events.select_related("actor_user", "actor_token")
