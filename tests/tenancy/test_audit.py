"""The audit log says who acted even after the user or the token is gone."""
from django.contrib.auth import get_user_model

from deployments.services import tokens
from tenancy.audit import Actor, audit_record
from tenancy.models import AuditEvent, WorkspaceMembership


def test_it_keeps_the_actor_after_the_user_and_the_token_are_deleted(alice, org, workspace):
    token, _ = tokens.token_create(organization=org, name="ci", role=WorkspaceMembership.Role.AUTHOR, actor=Actor(user=alice))
    audit_record(organization=org, action="deploy.create", target="deploy 1", actor=Actor(token=token, ip="10.0.0.9"))
    token.delete()
    get_user_model().objects.filter(pk=alice.pk).delete()
    events = {e.action: e for e in AuditEvent.objects.filter(organization=org)}
    assert events["token.create"].actor == "alice@example.com" and events["token.create"].actor_user is None
    assert events["deploy.create"].actor == f"token ci ({token.prefix}…)"
    assert events["deploy.create"].ip == "10.0.0.9"


def test_it_names_no_one_for_the_system(org):
    assert audit_record(organization=org, action="deploy.fail", target="deploy 2").actor == "system"


def test_the_audit_page_shows_the_snapshot(client, alice, org, workspace):
    audit_record(organization=org, action="deploy.create", target="deploy 3", actor=Actor(user=alice))
    client.force_login(alice)
    page = client.get(f"/orgs/{org.slug}/audit/").content.decode()
    assert "deploy.create" in page and "alice@example.com" in page
