"""Hibernation: every component of a deployment stopped (its metadata database's volume, settings
and versions kept) until it wakes up, by hand or on the deployment's schedules (cron, UTC). A
hibernating deployment takes deploys: they are activated and run when it wakes up."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from portal.errors import Conflict
from tenancy.audit import Actor, audit_record

from .. import events
from ..models import Deployment, Rollout
from ..models.cron import parse
from . import rollouts, runtime

logger = logging.getLogger(__name__)
SCHEDULE = "the hibernation schedule"


def _set(deployment: Deployment, *, hibernating: bool, actor: Actor | None, by: str) -> Deployment:
    locked = Deployment.objects.select_for_update().select_related("workspace__organization").get(pk=deployment.pk)
    if locked.hibernating == hibernating:
        raise Conflict(f"Deployment {locked.name} is {'already hibernating' if hibernating else 'not hibernating'}.")
    locked.hibernating = hibernating
    if hibernating:
        locked.status, locked.status_reason = Deployment.Status.HIBERNATING, "Hibernating: stopping every component."
    elif locked.desired_image_digest:
        locked.status, locked.status_reason = Deployment.Status.DEPLOYING, "Waking up: starting every component."
    else:
        locked.status, locked.status_reason = Deployment.Status.CREATING, "Waiting for the first deploy."
    locked.save(update_fields=["hibernating", "status", "status_reason", "updated_at"])
    action = "deployment.hibernate" if hibernating else "deployment.wake_up"
    audit_record(organization=locked.workspace.organization, action=action, target=locked.name, actor=actor,
                 **({"by": by} if by else {}))
    kind = Rollout.Kind.HIBERNATE if hibernating else Rollout.Kind.WAKE_UP
    rollouts.rollout_start(deployment=locked, kind=kind, summary=kind.label + (f" ({by})" if by else ""), actor=actor, by=by)
    events.deployment_changed(locked)
    if locked.desired_image_digest:
        runtime.reconcile_soon(locked.pk)
    return locked


@transaction.atomic
def deployment_hibernate(*, deployment: Deployment, actor: Actor | None = None, by: str = "") -> Deployment:
    """Stop every component; the deployment shows HIBERNATING until it wakes up."""
    return _set(deployment, hibernating=True, actor=actor, by=by)


@transaction.atomic
def deployment_wake_up(*, deployment: Deployment, actor: Actor | None = None, by: str = "") -> Deployment:
    """Start every component again, on the versions last activated (deploys made while hibernating too)."""
    return _set(deployment, hibernating=False, actor=actor, by=by)


def scheduled_state(schedules: list[dict], since: datetime, now: datetime) -> bool | None:
    """What the schedules ask for at `now` if one fired in (since, now]: True hibernate, False
    wake up, None nothing fired. The latest firing wins; at the same minute, waking up wins."""
    window = now - since
    latest: tuple[datetime, int] | None = None
    for schedule in schedules:
        if not schedule.get("enabled", True):
            continue
        for key, hibernate in (("hibernate_at", True), ("wake_at", False)):
            fired = parse(schedule[key]).last_before(now, within=window)
            if fired is not None and fired > since and (latest is None or (fired, not hibernate) > (latest[0], not latest[1])):
                latest = (fired, hibernate)
    return None if latest is None else bool(latest[1])


def schedules_apply(now: datetime | None = None) -> int:
    """Hibernate or wake each deployment whose schedule fired since it was last looked at (at most
    a day back); a change by hand in between stays until the schedule fires again."""
    now = now or timezone.now()
    changed = 0
    for deployment in Deployment.objects.exclude(hibernation_schedules=[]).select_related("workspace__organization"):
        since = max(deployment.hibernation_checked_at or now - timedelta(minutes=1), now - timedelta(days=1))
        wanted = scheduled_state(deployment.hibernation_schedules, since, now)
        Deployment.objects.filter(pk=deployment.pk).update(hibernation_checked_at=now)
        if wanted is None or wanted == deployment.hibernating:
            continue
        try:
            with transaction.atomic():
                _set(deployment, hibernating=wanted, actor=None, by=SCHEDULE)
            changed += 1
        except Conflict:
            pass  # changed by hand meanwhile
        except Exception:  # noqa: BLE001 - one deployment's trouble never stops the others' schedules
            logger.exception("the hibernation schedule of deployment %s failed", deployment.pk)
    return changed
