"""Reads. Every queryset a user can reach is built from that user's memberships."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from .models import (
    AuditEvent,
    Organization,
    OrganizationMembership,
    Workspace,
    WorkspaceMembership,
)

WorkspaceRole = WorkspaceMembership.Role
MANAGE_ROLES = frozenset({WorkspaceRole.OWNER, WorkspaceRole.OPERATOR})
DEPLOY_ROLES = frozenset({WorkspaceRole.OWNER, WorkspaceRole.OPERATOR, WorkspaceRole.AUTHOR})


def get_or_404(queryset: QuerySet, **lookup):
    """Fetch one object from a user-scoped queryset; a foreign or missing one is a 404."""
    try:
        return queryset.get(**lookup)
    except queryset.model.DoesNotExist as exc:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from exc


def organizations_for_user(user: AbstractBaseUser) -> QuerySet[Organization]:
    if not getattr(user, "is_authenticated", False):
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user)


def is_organization_owner(user: AbstractBaseUser, organization: Organization) -> bool:
    return OrganizationMembership.objects.filter(
        organization=organization, user=user, role=OrganizationMembership.Role.OWNER
    ).exists()


def workspaces_for_user(user: AbstractBaseUser) -> QuerySet[Workspace]:
    """Workspaces of organizations the user owns, and those the user is a member of."""
    if not getattr(user, "is_authenticated", False):
        return Workspace.objects.none()
    owned_org = OrganizationMembership.objects.filter(
        organization=OuterRef("organization"), user=user, role=OrganizationMembership.Role.OWNER
    )
    member = WorkspaceMembership.objects.filter(workspace=OuterRef("pk"), user=user)
    return Workspace.objects.filter(Q(Exists(owned_org)) | Q(Exists(member)))


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


def active_user(pk: int) -> AbstractBaseUser | None:
    """The user as the database has it now, or None once deactivated or deleted."""
    return get_user_model()._default_manager.filter(pk=pk, is_active=True).first()


def organization_members(organization: Organization) -> QuerySet[OrganizationMembership]:
    return organization.memberships.select_related("user").order_by("user__username")


def workspace_members(workspace: Workspace) -> QuerySet[WorkspaceMembership]:
    return workspace.memberships.select_related("user").order_by("user__username")


def organization_workspaces(organization: Organization) -> QuerySet[Workspace]:
    return organization.workspaces.all()


def organization_audit_events(user: AbstractBaseUser, organization: Organization) -> QuerySet[AuditEvent] | None:
    """The organization's audit log, for its owners only (None for anyone else)."""
    if not is_organization_owner(user, organization):
        return None
    return organization.audit_events.select_related("actor_user")
