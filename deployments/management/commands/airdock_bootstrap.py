"""First-run set-up for `make run`: an admin and a demo organization, printed to the terminal."""
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from deployments.services import deployments
from tenancy import services as tenancy
from tenancy.models import Organization, WorkspaceMembership


class Command(BaseCommand):
    help = "Create the first admin and a demo organization if they do not exist; print how to sign in."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        secret_file = Path(settings.VAR_DIR) / "first-admin.txt"
        if not User.objects.filter(username="admin").exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "admin@example.com", password)
            secret_file.parent.mkdir(parents=True, exist_ok=True)
            secret_file.write_text(f"admin {password}\n")
            secret_file.chmod(0o600)
        admin = User.objects.get(username="admin")
        if not Organization.objects.filter(slug="demo").exists():
            org = tenancy.organization_create(slug="demo", owner=admin, name="Demo")
            workspace = tenancy.workspace_create(organization=org, name="Data platform")
            tenancy.workspace_member_set(workspace=workspace, user=admin, role=WorkspaceMembership.Role.OWNER)
            deployments.deployment_create(workspace=workspace, name="analytics", description="Demo deployment")
        password = secret_file.read_text().split()[1] if secret_file.exists() else "(set before; see createsuperuser)"
        self.stdout.write(self.style.SUCCESS(
            "\nAirdock is set up.\n"
            "  URL:      http://127.0.0.1:8000/\n"
            f"  Admin:    admin / {password}\n"
            "  Demo:     organization 'demo', workspace 'Data platform', deployment 'analytics'\n"
        ))
