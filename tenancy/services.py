"""Writes for organizations, workspaces and memberships; every change of access is audited."""
from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from portal.errors import Conflict, Invalid

from .audit import Actor, audit_record
from .models import Organization, OrganizationMembership, Workspace, WorkspaceMembership

User = get_user_model()


def user_get_or_create(*, email: str) -> tuple[AbstractBaseUser, str | None]:
    """Return the user with this e-mail, creating one with a random password if none exists.

    The second value is the new user's password, or None when the user already existed.
    """
    email = User.objects.normalize_email(email.strip())
    if "@" not in email:
        raise Invalid(f"{email!r} is not an e-mail address.")
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
        raise Invalid(f"{slug!r} is not a valid slug: use lower-case letters, digits and hyphens.")
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(f"An organization with the slug {slug!r} already exists.")
    organization = Organization(slug=slug, name=name or slug.replace("-", " ").title())
    _validate(organization, exclude=[])
    organization.save()
    OrganizationMembership.objects.create(
        organization=organization, user=owner, role=OrganizationMembership.Role.OWNER
    )
    return organization


def _validate(obj, *, exclude: list[str]) -> None:
    """The model's own field rules (lengths, choices), as one message for the user."""
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise Invalid.from_validation(exc) from exc


def _check_role(role: str, roles: type) -> None:
    if role not in roles.values:
        raise Invalid(f"Unknown role {role!r}; use one of {', '.join(roles.values)}.")


@transaction.atomic
def organization_member_set(
    *, organization: Organization, user: AbstractBaseUser, role: str, actor: Actor | None = None
) -> OrganizationMembership:
    """Add a user to an organization, or change the user's role in it."""
    _check_role(role, OrganizationMembership.Role)
    membership, _ = OrganizationMembership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    audit_record(organization=organization, action="membership.organization", target=user.get_username(), actor=actor, role=role)
    return membership


@transaction.atomic
def organization_member_remove(*, membership: OrganizationMembership, actor: Actor | None = None) -> None:
    """Take a user out of an organization and of every workspace in it."""
    organization, user = membership.organization, membership.user
    WorkspaceMembership.objects.filter(workspace__organization=organization, user=user).delete()
    membership.delete()
    audit_record(organization=organization, action="membership.organization.remove", target=user.get_username(), actor=actor)


@transaction.atomic
def workspace_create(
    *, organization: Organization, name: str, description: str = "", created_by: AbstractBaseUser | None = None
) -> Workspace:
    """Create a workspace; its creator becomes its owner."""
    if Workspace.objects.filter(organization=organization, name=name).exists():
        raise Conflict(f"The organization already has a workspace named {name!r}.")
    workspace = Workspace(organization=organization, name=name, description=description)
    _validate(workspace, exclude=["organization"])
    workspace.save()
    if created_by is not None:
        workspace_member_set(workspace=workspace, user=created_by, role=WorkspaceMembership.Role.OWNER)
    return workspace


def workspace_update(*, workspace: Workspace, name: str, description: str) -> Workspace:
    if Workspace.objects.filter(organization=workspace.organization_id, name=name).exclude(pk=workspace.pk).exists():
        raise Conflict(f"The organization already has a workspace named {name!r}.")
    workspace.name = name
    workspace.description = description
    _validate(workspace, exclude=["organization"])
    workspace.save(update_fields=["name", "description"])
    return workspace


@transaction.atomic
def workspace_member_set(
    *, workspace: Workspace, user: AbstractBaseUser, role: str, actor: Actor | None = None
) -> WorkspaceMembership:
    """Add a user to a workspace (and its organization, as a member), or change the user's role."""
    _check_role(role, WorkspaceMembership.Role)
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


@transaction.atomic
def workspace_member_remove(*, membership: WorkspaceMembership, actor: Actor | None = None) -> None:
    workspace, user = membership.workspace, membership.user
    membership.delete()
    audit_record(organization=workspace.organization, action="membership.workspace.remove",
                 target=f"{user.get_username()} in {workspace.name}", actor=actor)
