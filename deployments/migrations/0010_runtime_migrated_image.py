"""The migrated image is stored as repository@digest, longer than 100 characters: a settings change
after the first rollout failed validation on it."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("deployments", "0009_status_not_deployed_yet")]

    operations = [
        migrations.RenameField("deployment", "runtime_migrated_digest", "runtime_migrated_image"),
        migrations.AlterField(
            model_name="deployment",
            name="runtime_migrated_image",
            field=models.CharField(
                blank=True, max_length=500,
                help_text="The image (repository@digest) whose database migrations have run on the metadata database.",
            ),
        ),
    ]
