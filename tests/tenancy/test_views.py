"""Organization and workspace pages: who may create and edit workspaces."""
from django.urls import reverse

from tenancy.models import Workspace


def test_it_lets_an_organization_owner_create_a_workspace(client, alice, org):
    client.force_login(alice)
    response = client.post(reverse("workspace_create", args=[org.slug]), {"name": "Marketing", "description": "m"})
    workspace = Workspace.objects.get(organization=org, name="Marketing")
    assert response.status_code == 302 and response.url == workspace.get_absolute_url()


def test_it_rejects_a_duplicate_workspace_name_with_a_message(client, alice, org, workspace):
    client.force_login(alice)
    response = client.post(reverse("workspace_create", args=[org.slug]), {"name": workspace.name})
    assert response.status_code == 200
    assert "already has a workspace named" in response.content.decode()


def test_it_forbids_workspace_creation_to_plain_organization_members(client, bob, org):
    client.force_login(bob)
    assert client.post(reverse("workspace_create", args=[org.slug]), {"name": "X"}).status_code == 403
    assert not Workspace.objects.filter(name="X").exists()


def test_it_lets_only_workspace_owners_edit_a_workspace(client, alice, bob, workspace):
    client.force_login(bob)
    assert client.post(reverse("workspace_edit", args=[workspace.pk]), {"name": "Z"}).status_code == 403
    client.force_login(alice)
    assert client.post(reverse("workspace_edit", args=[workspace.pk]), {"name": "Z"}).status_code == 302
    workspace.refresh_from_db()
    assert workspace.name == "Z"
