import time

import django_rq
from django.conf import settings
from django.core.management.base import BaseCommand

from deployments.services import component_logs, hibernation
from runtime import jobs


class Command(BaseCommand):
    help = ("Keep every deployment's status current (what its components really run, every --every "
            "seconds; worker queues autoscale on the way), apply the hibernation schedules, prune old "
            "component log lines, and reconcile each deployment periodically "
            "(AIRDOCK_RUNTIME_RECONCILE_EVERY), so drift is repaired.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--every", type=float, default=5, help="Observe every N seconds.")
        parser.add_argument("--once", action="store_true", help="Observe and enqueue reconciles once, then stop.")

    def handle(self, *args, every: float, once: bool, **options) -> None:
        last_reconcile = last_prune = 0.0
        while True:
            hibernation.schedules_apply()
            jobs.observe_all()
            if time.monotonic() - last_prune >= 600:
                component_logs.log_lines_prune()
                last_prune = time.monotonic()
            if time.monotonic() - last_reconcile >= settings.AIRDOCK_RUNTIME_RECONCILE_EVERY:
                queue = django_rq.get_queue("default")
                for deployment_id in jobs.running_deployments():
                    queue.enqueue(jobs.RECONCILE_JOB, deployment_id, job_timeout=settings.AIRDOCK_RUNTIME_MIGRATE_TIMEOUT + 600,
                                  description=f"reconcile deployment {deployment_id} (periodic)")
                last_reconcile = time.monotonic()
            if once:
                return
            time.sleep(every)
