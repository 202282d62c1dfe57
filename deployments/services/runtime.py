"""Hand a deployment to the data plane: its reconcile pass runs as a job after the change commits
(by dotted path: the runtime app depends on deployments, never the reverse)."""
from __future__ import annotations

import django_rq
from django.conf import settings
from django.db import transaction

RECONCILE_JOB = "runtime.jobs.reconcile_deployment"


def reconcile_soon(deployment_id: int) -> None:
    def enqueue() -> None:
        django_rq.get_queue("default").enqueue(
            RECONCILE_JOB, deployment_id, job_timeout=settings.AIRDOCK_RUNTIME_MIGRATE_TIMEOUT + 600,
            description=f"reconcile deployment {deployment_id}",
        )

    transaction.on_commit(enqueue)
