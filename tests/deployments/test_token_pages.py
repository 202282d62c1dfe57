from django.urls import reverse

from deployments.models import ApiToken
from deployments.services import tokens
from tenancy import services as tenancy
from tenancy.models import AuditEvent, WorkspaceMembership


def test_it_shows_a_new_token_once_and_revokes_it(client, alice, org, workspace):
    client.force_login(alice)
    url = reverse("organization_tokens", args=[org.slug])
    page = client.post(url, {"name": "deployer", "scope": f"ws:{workspace.pk}", "role": "author", "expires_in_days": 30})
    token = ApiToken.objects.get(name="deployer")
    raw = page.context["created"]
    assert raw.startswith("adk_") and raw in page.content.decode()
    assert token.workspace == workspace and token.expires_at is not None
    assert raw not in client.get(url).content.decode(), "shown once"
    client.post(url, {"revoke": token.pk})
    assert tokens.token_authenticate(raw=raw) is None
    actions = set(AuditEvent.objects.filter(organization=org).values_list("action", flat=True))
    assert {"token.create", "token.revoke"} <= actions


def test_it_keeps_tokens_and_audit_to_organization_owners(client, bob, charlie, org):
    for name in ("organization_tokens", "organization_audit"):
        url = reverse(name, args=[org.slug])
        client.force_login(bob)
        assert client.get(url).status_code == 403
        client.force_login(charlie)
        assert client.get(url).status_code == 404


def test_it_lists_membership_changes_with_who_did_them(client, alice, org, workspace):
    from tenancy.audit import Actor
    from tests import factories

    dana = factories.UserFactory(username="dana@example.com")
    tenancy.workspace_member_set(workspace=workspace, user=dana, role=WorkspaceMembership.Role.OPERATOR, actor=Actor(user=alice, ip="10.0.0.1"))
    client.force_login(alice)
    page = client.get(reverse("organization_audit", args=[org.slug])).content.decode()
    assert "membership.workspace" in page and "dana@example.com in Analytics" in page and "10.0.0.1" in page
