from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from deployments.models import Deployment
from deployments.services import tokens
from portal.errors import AirdockError
from tenancy.models import Organization, WorkspaceMembership


class Command(BaseCommand):
    help = "Create an API token and print it alone on stdout (it is not shown again)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--organization", required=True, help="Organization slug.")
        parser.add_argument("--workspace", type=int, help="Scope the token to this workspace id.")
        parser.add_argument("--deployment", type=int, help="Scope the token to this deployment id.")
        parser.add_argument("--role", required=True, choices=WorkspaceMembership.Role.values)
        parser.add_argument("--name", default="CI token")
        parser.add_argument("--expires-in-days", type=int, default=0, help="0: never expires.")

    def handle(self, *args, organization, workspace, deployment, role, name, expires_in_days, **options) -> None:
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            raise CommandError(f"No organization with the slug {organization!r}.")
        ws = org.workspaces.filter(pk=workspace).first() if workspace else None
        if workspace and ws is None:
            raise CommandError(f"Workspace {workspace} is not in {organization}.")
        dep = Deployment.objects.filter(pk=deployment, workspace__organization=org).first() if deployment else None
        if deployment and dep is None:
            raise CommandError(f"Deployment {deployment} is not in {organization}.")
        expires = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            _, raw = tokens.token_create(organization=org, workspace=ws, deployment=dep, role=role, name=name, expires_at=expires)
        except AirdockError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(raw)
