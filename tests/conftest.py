"""Fixtures shared by every test: three users (alice and bob share a workspace; charlie is an
outsider with a workspace of his own), so every view and consumer gets a tenancy test."""
import pytest

from tenancy.models import OrganizationMembership, WorkspaceMembership
from tests import factories


@pytest.fixture
def org(db):
    return factories.OrganizationFactory(name="Acme", slug="acme")


@pytest.fixture
def alice(org):
    """Owner of the organization (and so of every workspace in it)."""
    user = factories.UserFactory(username="alice@example.com")
    factories.OrganizationMembershipFactory(organization=org, user=user, role=OrganizationMembership.Role.OWNER)
    return user


@pytest.fixture
def workspace(org, alice):
    return factories.WorkspaceFactory(organization=org, name="Analytics")


@pytest.fixture
def bob(org, workspace):
    """An author in alice's workspace: may deploy, may not manage."""
    user = factories.UserFactory(username="bob@example.com")
    factories.OrganizationMembershipFactory(organization=org, user=user)
    factories.WorkspaceMembershipFactory(workspace=workspace, user=user, role=WorkspaceMembership.Role.AUTHOR)
    return user


@pytest.fixture
def charlie(db):
    """An outsider: owner of another organization, member of nothing of alice's."""
    user = factories.UserFactory(username="charlie@example.com")
    other = factories.OrganizationFactory(name="Other", slug="other")
    factories.OrganizationMembershipFactory(organization=other, user=user, role=OrganizationMembership.Role.OWNER)
    factories.WorkspaceFactory(organization=other, name="Elsewhere")
    return user


@pytest.fixture
def deployment(workspace):
    return factories.DeploymentFactory(workspace=workspace, name="etl")


def member(workspace, role: str):
    """Make a new user with the given role in a workspace."""
    user = factories.UserFactory()
    factories.OrganizationMembershipFactory(organization=workspace.organization, user=user)
    factories.WorkspaceMembershipFactory(workspace=workspace, user=user, role=role)
    return user


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path_factory):
    """Archives and DAG bundles of each test go to a fresh folder, never to var/."""
    root = tmp_path_factory.mktemp("storage")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root / "archives"}},
        "bundles": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root / "bundles"}},
    }
    return root


@pytest.fixture(autouse=True)
def local_cache(settings):
    """Rate-limit counters of one test never reach another: an in-memory cache per test
    (tests/security/test_rate_limits.py uses the real Redis cache)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(id(settings))}}
