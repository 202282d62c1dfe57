"""List the Astro Runtime versions Airdock knows, build their images, prune unused ones."""
from django.core.management.base import BaseCommand, CommandError

from deployments.models import RuntimeImage
from deployments.services.runtimes import table
from deployments.services.runtimes.images import (
    ensure_runtime_image,
    runtime_images_prune,
)
from deployments.services.runtimes.resolve import local_image, resolve
from portal.errors import AirdockError


class Command(BaseCommand):
    help = "Astro Runtime versions: `list` the table, `build` images (VERSION ... or --newest), `prune` old ones."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Print every known Runtime version, its Airflow and Python, and whether it is built.")
        build = sub.add_parser("build", help="Build the images of these Runtime versions (first use does it otherwise).")
        build.add_argument("versions", nargs="*", help="Runtime versions, e.g. 12.12.0 3.1-21")
        build.add_argument("--newest", action="store_true", help="The newest version of each line.")
        prune = sub.add_parser("prune", help="Remove the least recently used images beyond --keep.")
        prune.add_argument("--keep", type=int, default=None)

    def handle(self, *args, action: str, **options) -> None:
        try:
            getattr(self, f"do_{action}")(**options)
        except AirdockError as exc:
            raise CommandError(exc.message) from exc

    def do_list(self, **options) -> None:
        built = set(RuntimeImage.objects.values_list("runtime_version", flat=True))
        self.stdout.write(f"{'line':<5} {'runtime':<9} {'airflow':<8} {'python':<7} {'released':<11} {'providers':<22} built")
        for line, rows in table.lines().items():
            for row in rows:
                pinned = sum(1 for v in row.providers.values() if v)
                providers = f"{len(row.providers)} ({'exact' if pinned == len(row.providers) else 'as of release'})"
                flags = ("yes" if row.runtime in built else "") + (" (yanked by Astronomer)" if row.yanked else "")
                self.stdout.write(f"{line:<5} {row.runtime:<9} {row.airflow:<8} {row.python:<7} {row.released!s:<11} {providers:<22} {flags}")

    def do_build(self, versions: list[str], newest: bool, **options) -> None:
        wanted = [table.newest(line).runtime for line in table.lines()] if newest else versions
        if not wanted:
            raise CommandError("Name Runtime versions, or pass --newest.")
        for runtime in wanted:
            version = table.get(runtime)
            if version is None:
                raise CommandError(f"Astro Runtime {runtime} is not in the table; `airdock_runtime list` shows the known versions.")
            ensure_runtime_image(resolve(version.image_ref), on_line=self.stdout.write)
            self.stdout.write(self.style.SUCCESS(f"{local_image(version)} is ready ({version})"))

    def do_prune(self, keep: int | None, **options) -> None:
        removed = runtime_images_prune(keep=keep)
        self.stdout.write(f"Removed {len(removed)} Runtime image(s): {', '.join(removed) or 'none'}")
