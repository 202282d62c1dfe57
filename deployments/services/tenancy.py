"""Writes for organizations, workspaces and memberships."""
from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.text import slugify

from ..models import Organization, OrganizationMembership, Workspace, WorkspaceMembership
from .audit import Actor, audit_record

User = get_user_model()


class TenancyError(Exception):
    """A tenancy change that cannot be made; the message says why."""


def user_get_or_create(*, email: str) -> tuple[AbstractBaseUser, str | None]:
    """Return the user with this e-mail, creating one with a random password if none exists.

    The second value is the new user's password, or None when the user already existed.
    """
    email = User.objects.normalize_email(email.strip())
    if "@" not in email:
        raise TenancyError(f"{email!r} is not an e-mail address.")
    user = User.objects.filter(email__iexact=email).first() or User.objects.filter(username=email).first()
    if user:
        return user, None
    password = secrets.token_urlsafe(12)
    user = User.objects.create_user(username=email, email=email, password=password)
    return user, password


@transaction.atomic
def organization_create(*, slug: str, owner: AbstractBaseUser, name: str = "") -> Organization:
    """Create an organization with its first owner."""
    if slug != slugify(slug) or not slug:
        raise TenancyError(f"{slug!r} is not a valid slug: use lower-case letters, digits and hyphens.")
    if Organization.objects.filter(slug=slug).exists():
        raise TenancyError(f"An organization with the slug {slug!r} already exists.")
    organization = Organization.objects.create(slug=slug, name=name or slug.replace("-", " ").title())
    OrganizationMembership.objects.create(
        organization=organization, user=owner, role=OrganizationMembership.Role.OWNER
    )
    return organization


def organization_member_set(
    *, organization: Organization, user: AbstractBaseUser, role: str, actor: Actor | None = None
) -> OrganizationMembership:
    """Add a user to an organization, or change the user's role in it."""
    membership, _ = OrganizationMembership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    audit_record(organization=organization, action="membership.organization", target=user.get_username(), actor=actor, role=role)
    return membership


@transaction.atomic
def workspace_create(
    *, organization: Organization, name: str, description: str = "", created_by: AbstractBaseUser | None = None
) -> Workspace:
    """Create a workspace; its creator (when not already an organization owner) becomes its owner."""
    if Workspace.objects.filter(organization=organization, name=name).exists():
        raise TenancyError(f"The organization already has a workspace named {name!r}.")
    workspace = Workspace.objects.create(organization=organization, name=name, description=description)
    if created_by is not None:
        workspace_member_set(workspace=workspace, user=created_by, role=WorkspaceMembership.Role.OWNER)
    return workspace


def workspace_update(*, workspace: Workspace, name: str, description: str) -> Workspace:
    workspace.name = name
    workspace.description = description
    workspace.save(update_fields=["name", "description"])
    return workspace


@transaction.atomic
def workspace_member_set(
    *, workspace: Workspace, user: AbstractBaseUser, role: str, actor: Actor | None = None
) -> WorkspaceMembership:
    """Add a user to a workspace (and its organization, as a member), or change the user's role."""
    OrganizationMembership.objects.get_or_create(
        organization=workspace.organization, user=user,
        defaults={"role": OrganizationMembership.Role.MEMBER},
    )
    membership, _ = WorkspaceMembership.objects.update_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    audit_record(organization=workspace.organization, action="membership.workspace",
                 target=f"{user.get_username()} in {workspace.name}", actor=actor, role=role)
    return membership
