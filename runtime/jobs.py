"""RQ jobs of the data plane (enqueued by dotted path: the deployments app never imports this)."""
from __future__ import annotations

import logging

from deployments.models import Deployment

from . import reconcile as reconciling
from .observe import observe

logger = logging.getLogger(__name__)
RECONCILE_JOB = "runtime.jobs.reconcile_deployment"


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
