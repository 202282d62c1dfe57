"""API tokens of the tests' users: alice's organization (owner, author) and outsider charlie's."""
import pytest

from deployments.services import tokens
from tenancy.models import Workspace, WorkspaceMembership

Role = WorkspaceMembership.Role


def make_token(org, role, workspace=None, deployment=None, **kw):
    return tokens.token_create(organization=org, role=role, workspace=workspace, deployment=deployment, name="t", **kw)[1]


def auth(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def owner_token(org, alice):
    return make_token(org, Role.OWNER)


@pytest.fixture
def author_token(org, workspace):
    return make_token(org, Role.AUTHOR, workspace=workspace)


@pytest.fixture
def foreign_token(charlie):
    other = Workspace.objects.get(name="Elsewhere")
    return make_token(other.organization, Role.OWNER, workspace=other)
