"""A deployment's environment variables (every value encrypted; secrets write-only)."""
import django.db.models.deletion
from django.db import migrations, models

import deployments.models.fields
import deployments.models.variables


class Migration(migrations.Migration):

    dependencies = (
        ("deployments", "0010_runtime_migrated_image"),
    )

    operations = (
        migrations.CreateModel(
            name='EnvironmentVariable',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=255, validators=[deployments.models.variables.validate_variable_key])),
                ('value', deployments.models.fields.SecretTextField(blank=True, null=True, validators=[deployments.models.variables.validate_variable_value])),
                ('is_secret', models.BooleanField(default=False, help_text='Write-only: the value is never shown again, on pages or in the API.', verbose_name='secret')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('deployment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='environment_variables', to='deployments.deployment')),
            ],
            options={
                'ordering': ('key',),
                'constraints': (models.UniqueConstraint(fields=('deployment', 'key'), name='unique_variable_key'),),
            },
        ),
    )
