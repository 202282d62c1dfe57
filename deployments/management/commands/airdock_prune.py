from django.core.management.base import BaseCommand

from deployments.services import retention


class Command(BaseCommand):
    help = ("Remove what old deploys leave behind (logs, uploaded archives, images in the engine and the "
            "registry, DAG bundles), keeping what a rollback may need (AIRDOCK_RETENTION_DAYS, "
            "AIRDOCK_RETENTION_KEEP_DEPLOYS); then the registry's garbage collection.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-registry-gc", action="store_true", help="Delete images' manifests, but collect no garbage.")

    def handle(self, *args, no_registry_gc: bool, **options) -> None:
        report = retention.prune(collect_garbage=not no_registry_gc)
        self.stdout.write(report.summary())
