"""Existing databases move to the tenancy app without losing a row (SeparateDatabaseAndState)."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("deployments", "0004_api_tokens_audit_git"), ("tenancy", None)]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state([t for t in targets if t[1] is not None]).apps


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_a_database_at_the_old_migrations_moves_forward_keeping_every_row():
    try:
        old = migrate(BEFORE)
        User = old.get_model("auth", "User")
        Organization = old.get_model("deployments", "Organization")
        alice = User.objects.create(username="alice@example.com")
        bob = User.objects.create(username="bob@example.com")
        org = Organization.objects.create(name="Acme", slug="acme")
        old.get_model("deployments", "OrganizationMembership").objects.create(organization=org, user=alice, role="owner")
        ws = old.get_model("deployments", "Workspace").objects.create(organization=org, name="Analytics")
        old.get_model("deployments", "WorkspaceMembership").objects.create(workspace=ws, user=bob, role="author")
        deployment = old.get_model("deployments", "Deployment").objects.create(workspace=ws, name="etl")
        token = old.get_model("deployments", "ApiToken").objects.create(
            organization=org, workspace=ws, name="ci", role="author", prefix="adk_abcdef", token_hash="h" * 64
        )
        AuditEvent = old.get_model("deployments", "AuditEvent")
        AuditEvent.objects.create(organization=org, actor_user=alice, action="token.create", target="ci")
        AuditEvent.objects.create(organization=org, actor_token=token, action="deploy.create", target="deploy 1")
        AuditEvent.objects.create(organization=org, action="deploy.cancel", target="deploy 2")

        new = migrate(latest())
        assert new.get_model("tenancy", "Organization").objects.get().slug == "acme"
        assert new.get_model("tenancy", "OrganizationMembership").objects.get().user_id == alice.pk
        workspace = new.get_model("tenancy", "Workspace").objects.get()
        assert workspace.name == "Analytics" and workspace.organization_id == org.pk
        assert new.get_model("tenancy", "WorkspaceMembership").objects.get().role == "author"
        moved = new.get_model("deployments", "Deployment").objects.get()
        assert moved.pk == deployment.pk and moved.workspace_id == ws.pk
        assert new.get_model("deployments", "ApiToken").objects.get().workspace_id == ws.pk
        events = {e.action: e for e in new.get_model("tenancy", "AuditEvent").objects.all()}
        assert len(events) == 3
        assert (events["token.create"].actor_kind, events["token.create"].actor_name) == ("user", "alice@example.com")
        by_token = events["deploy.create"]
        assert (by_token.actor_kind, by_token.actor_name, by_token.actor_token_prefix) == ("token", "ci", "adk_abcdef")
        assert events["deploy.cancel"].actor_kind == "system"
        tables = connection.introspection.table_names()
        assert "tenancy_workspace" in tables and "deployments_workspace" not in tables
    finally:
        migrate(latest())
