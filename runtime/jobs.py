"""RQ jobs of the data plane (enqueued by dotted path: the deployments app never imports this)."""
from __future__ import annotations

import logging

import django_rq
from django.db import transaction

from deployments.models import Deployment

from . import reconcile as reconciling
from .observe import observe

logger = logging.getLogger(__name__)
RECONCILE_JOB = "runtime.jobs.reconcile_deployment"
OBSERVE_JOB = "runtime.jobs.observe_deployment"


def reconcile_deployment(deployment_id: int) -> str:
    done = reconciling.reconcile(deployment_id)
    logger.info("reconcile deployment %s: %s", deployment_id, done)
    return done


def running_deployments() -> list[int]:
    return list(Deployment.objects.exclude(desired_image_digest="").values_list("pk", flat=True))


def observe_all() -> int:
    """Refresh every deployment's components and status (cheap: reads Swarm and the reports)."""
    for deployment_id in running_deployments():
        try:
            observe(deployment_id)
        except Exception:  # noqa: BLE001 - one deployment's trouble never stops the others' status
            logger.exception("observing deployment %s failed", deployment_id)
    return len(running_deployments())


def observe_deployment(deployment_id: int) -> str:
    found = observe(deployment_id)
    return found.status if found is not None else "deployment gone"


def observe_soon(deployment_id: int) -> None:
    """Observe one deployment in a job, after the current change commits (an agent reported something
    its page shows), rather than at the runtime watcher's next turn."""
    transaction.on_commit(lambda: django_rq.get_queue("default").enqueue(
        OBSERVE_JOB, deployment_id, job_timeout=120, description=f"observe deployment {deployment_id}"))
