from django.core.management.base import BaseCommand, CommandError

from portal.errors import AirdockError
from tenancy import services as tenancy


class Command(BaseCommand):
    help = "Create an organization and its owner (creating the user if new); print the slug."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="The organization's slug, e.g. data-platform.")
        parser.add_argument("--owner", required=True, help="E-mail address of the owner.")
        parser.add_argument("--name", default="", help="Display name (default: from the slug).")

    def handle(self, *args, slug: str, owner: str, name: str, **options) -> None:
        try:
            user, password = tenancy.user_get_or_create(email=owner)
            organization = tenancy.organization_create(slug=slug, owner=user, name=name)
        except AirdockError as exc:
            raise CommandError(exc.message) from exc
        if password:
            self.stderr.write(f"Created user {user.get_username()} with password: {password}")
        self.stdout.write(organization.slug)
