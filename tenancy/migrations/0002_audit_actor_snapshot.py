"""The audit log keeps who acted as a snapshot (a deleted user or token no longer erases it), and
the tenancy tables take their own app's names."""
from django.contrib.auth import get_user_model
from django.db import migrations, models


def snapshot_actors(apps, schema_editor):
    AuditEvent = apps.get_model("tenancy", "AuditEvent")
    username_field = get_user_model().USERNAME_FIELD  # historical models keep fields, not class attributes
    for event in AuditEvent.objects.select_related("actor_token", "actor_user").iterator():
        if event.actor_token_id:
            event.actor_kind, event.actor_name = "token", event.actor_token.name
            event.actor_token_prefix = event.actor_token.prefix
        elif event.actor_user_id:
            event.actor_kind, event.actor_name = "user", getattr(event.actor_user, username_field)
        else:
            continue
        event.save(update_fields=["actor_kind", "actor_name", "actor_token_prefix"])


class Migration(migrations.Migration):

    dependencies = [
        ("tenancy", "0001_initial"),
        ("deployments", "0005_tenancy_moves_out"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent", name="actor_kind",
            field=models.CharField(choices=[("user", "User"), ("token", "API token"), ("system", "System")], default="system", max_length=8),
        ),
        migrations.AddField(
            model_name="auditevent", name="actor_name",
            field=models.CharField(blank=True, help_text="User name or token name when it acted.", max_length=150),
        ),
        migrations.AddField(
            model_name="auditevent", name="actor_token_prefix",
            field=models.CharField(blank=True, max_length=12),
        ),
        migrations.RunPython(snapshot_actors, migrations.RunPython.noop),
        migrations.RemoveField(model_name="auditevent", name="actor_token"),
        migrations.AlterModelTable(name="organization", table=None),
        migrations.AlterModelTable(name="workspace", table=None),
        migrations.AlterModelTable(name="organizationmembership", table=None),
        migrations.AlterModelTable(name="workspacemembership", table=None),
        migrations.AlterModelTable(name="auditevent", table=None),
    ]
