import time

from django.conf import settings
from django.core.management.base import BaseCommand

from deployments.services import deploys, retention


class Command(BaseCommand):
    help = ("Fail deploys whose worker was lost, so none stays 'in progress'; with --every, keep doing it, "
            "and prune old deploys every AIRDOCK_PRUNE_EVERY_SECONDS (manage.py airdock_prune).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--every", type=int, default=0, help="Repeat every N seconds (0: once).")

    def handle(self, *args, every: int, **options) -> None:
        pruned_at = time.monotonic()  # the first prune an interval after start, not at every restart
        while True:
            failed = deploys.deploys_fail_lost()
            if failed:
                self.stdout.write(f"Failed {failed} deploy(s) whose worker was lost.")
            if not every:
                return
            if settings.AIRDOCK_PRUNE_EVERY_SECONDS and time.monotonic() - pruned_at >= settings.AIRDOCK_PRUNE_EVERY_SECONDS:
                pruned_at = time.monotonic()
                try:
                    self.stdout.write(retention.prune().summary())
                except Exception as exc:  # noqa: BLE001 - the reaper's own work goes on
                    self.stderr.write(f"prune failed: {exc}")
            time.sleep(every)
