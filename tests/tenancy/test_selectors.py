import pytest

from deployments import selectors as deployment_selectors
from tenancy import selectors
from tenancy.models import WorkspaceMembership
from tests import factories
from tests.conftest import member

Role = WorkspaceMembership.Role


def test_it_treats_organization_owners_as_workspace_owners(alice, workspace):
    assert selectors.workspace_role(alice, workspace) == Role.OWNER
    assert selectors.can_manage(alice, workspace) and selectors.can_deploy(alice, workspace)


@pytest.mark.parametrize("role, manage, deploy", [
    (Role.OWNER, True, True),
    (Role.OPERATOR, True, True),
    (Role.AUTHOR, False, True),
    (Role.MEMBER, False, False),
])
def test_it_grants_rights_by_workspace_role(workspace, role, manage, deploy):
    user = member(workspace, role)
    assert selectors.can_manage(user, workspace) is manage
    assert selectors.can_deploy(user, workspace) is deploy


def test_it_gives_outsiders_no_role(workspace, charlie):
    assert selectors.workspace_role(charlie, workspace) is None
    assert not selectors.can_deploy(charlie, workspace)


def test_it_scopes_every_queryset_to_memberships(alice, bob, charlie, workspace, deployment):
    other_org = factories.OrganizationFactory()
    hidden_ws = factories.WorkspaceFactory(organization=workspace.organization, name="Hidden")
    factories.DeploymentFactory(workspace=hidden_ws)
    factories.DeploymentFactory(workspace=factories.WorkspaceFactory(organization=other_org))

    assert set(selectors.workspaces_for_user(alice)) == {workspace, hidden_ws}
    assert set(selectors.workspaces_for_user(bob)) == {workspace}
    assert list(deployment_selectors.deployments_for_user(bob)) == [deployment]
    assert deployment not in deployment_selectors.deployments_for_user(charlie)
    assert set(selectors.organizations_for_user(bob)) == {workspace.organization}
