"""Organizations, workspaces, memberships and the audit log now belong to the tenancy app
(tenancy 0001 took them over in Django's state; the tables stay as they are here)."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("deployments", "0004_api_tokens_audit_git"),
        ("tenancy", "0001_initial"),
    ]

    state_operations = [
        migrations.AlterField(
            model_name="deployment", name="workspace",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="deployments", to="tenancy.workspace"),
        ),
        migrations.AlterField(
            model_name="apitoken", name="organization",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="api_tokens", to="tenancy.organization"),
        ),
        migrations.AlterField(
            model_name="apitoken", name="workspace",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="api_tokens", to="tenancy.workspace"),
        ),
        migrations.DeleteModel(name="AuditEvent"),
        migrations.DeleteModel(name="WorkspaceMembership"),
        migrations.DeleteModel(name="OrganizationMembership"),
        migrations.DeleteModel(name="Workspace"),
        migrations.DeleteModel(name="Organization"),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations, database_operations=[])]
