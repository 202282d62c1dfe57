"""Admin edits that change access go through the services and are audited."""
from django.urls import reverse

from tenancy.models import AuditEvent, OrganizationMembership, WorkspaceMembership
from tests import factories


def test_changing_a_role_in_the_admin_is_audited(admin_client, admin_user, workspace, bob):
    membership = WorkspaceMembership.objects.get(workspace=workspace, user=bob)
    url = reverse("admin:tenancy_workspacemembership_change", args=[membership.pk])
    response = admin_client.post(url, {"role": "operator"})
    assert response.status_code == 302, response.content.decode()[:2000]
    membership.refresh_from_db()
    assert membership.role == "operator"
    event = AuditEvent.objects.get(action="membership.workspace")
    assert event.actor_name == admin_user.get_username() and event.detail == {"role": "operator"}


def test_adding_and_removing_a_member_in_the_admin_is_audited(admin_client, org, workspace):
    dana = factories.UserFactory(username="dana@example.com")
    response = admin_client.post(reverse("admin:tenancy_workspacemembership_add"),
                                 {"workspace": workspace.pk, "user": dana.pk, "role": "author"})
    assert response.status_code == 302
    membership = WorkspaceMembership.objects.get(user=dana)
    assert OrganizationMembership.objects.filter(organization=org, user=dana).exists()
    response = admin_client.post(reverse("admin:tenancy_workspacemembership_delete", args=[membership.pk]), {"post": "yes"})
    assert response.status_code == 302 and not WorkspaceMembership.objects.filter(user=dana).exists()
    actions = list(AuditEvent.objects.filter(organization=org).values_list("action", flat=True))
    assert "membership.workspace" in actions and "membership.workspace.remove" in actions


def test_the_bulk_delete_action_goes_through_the_service(admin_client, org, bob):
    membership = OrganizationMembership.objects.get(organization=org, user=bob)
    response = admin_client.post(reverse("admin:tenancy_organizationmembership_changelist"), {
        "action": "delete_selected", "_selected_action": [membership.pk], "post": "yes",
    })
    assert response.status_code == 302
    assert not OrganizationMembership.objects.filter(user=bob).exists()
    assert not WorkspaceMembership.objects.filter(user=bob).exists()  # out of the organization, out of its workspaces
    assert AuditEvent.objects.filter(action="membership.organization.remove", target=bob.get_username()).exists()


def test_membership_inlines_only_show_members(admin_client, org, alice):
    page = admin_client.get(reverse("admin:tenancy_organization_change", args=[org.pk])).content.decode()
    assert alice.get_username() in page
    assert 'name="memberships-0-role"' not in page  # no editable field: changes go through Memberships
