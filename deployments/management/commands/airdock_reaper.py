import time

from django.core.management.base import BaseCommand

from deployments.services import deploys


class Command(BaseCommand):
    help = "Fail deploys whose worker was lost, so none stays 'in progress'; with --every, keep doing it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--every", type=int, default=0, help="Repeat every N seconds (0: once).")

    def handle(self, *args, every: int, **options) -> None:
        while True:
            failed = deploys.deploys_fail_lost()
            if failed:
                self.stdout.write(f"Failed {failed} deploy(s) whose worker was lost.")
            if not every:
                return
            time.sleep(every)
