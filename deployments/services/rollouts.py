"""Rollouts: a settings change, new environment variables, hibernating or waking up, recorded when
asked for and settled by the data plane's observation (DONE once the deployment runs it, FAILED
with the reason when it is still unhealthy past the rollout deadline). A newer change supersedes
one still rolling out."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from tenancy.audit import Actor

from .. import events
from ..models import Deployment, Rollout


def actor_name(actor: Actor | None, default: str = "") -> str:
    if actor is not None and actor.token is not None:
        return f"token {actor.token.name}"
    user = actor.signed_in_user if actor is not None else None
    return user.get_username() if user is not None else default


def rollout_start(*, deployment: Deployment, kind: str, summary: str, actor: Actor | None = None,
                  by: str = "") -> Rollout | None:
    """Record a change the data plane rolls out (nothing runs before the first deploy: no rollout)."""
    if not deployment.desired_image_digest:
        return None
    now = timezone.now()
    Rollout.objects.filter(deployment=deployment, state=Rollout.State.ROLLING).update(
        state=Rollout.State.SUPERSEDED, finished_at=now, message="A later change replaced it before it was rolled out.")
    message = "Runs when the deployment wakes up." if deployment.hibernating and kind != Rollout.Kind.HIBERNATE else ""
    rollout = Rollout.objects.create(deployment=deployment, kind=kind, summary=summary[:500],
                                     actor_name=actor_name(actor, by)[:150], message=message)
    events.deployment_changed(deployment)
    return rollout


def rollouts_pending(deployment_id: int) -> list[int]:
    """The rollouts a reconcile pass is about to give to Swarm: read before the pass reads the
    deployment, so that the settings it applies include each of them."""
    return list(Rollout.objects.filter(deployment_id=deployment_id, state=Rollout.State.ROLLING, applied_at__isnull=True)
                .values_list("pk", flat=True))


def rollouts_applied(rollout_ids: list[int]) -> None:
    """A reconcile pass gave these to Swarm: from now on the deployment's status tells whether they run."""
    if rollout_ids:
        Rollout.objects.filter(pk__in=rollout_ids, applied_at__isnull=True).update(applied_at=timezone.now())


def rollouts_settle(deployment: Deployment, *, status: str, reason: str, running: int) -> list[Rollout]:
    """Finish the rollouts the deployment's observed state now answers; return those that changed.
    `running` is how many of its containers still run."""
    now = timezone.now()
    deadline = timedelta(seconds=settings.AIRDOCK_RUNTIME_ROLLOUT_DEADLINE)
    settled = []
    for rollout in Rollout.objects.filter(deployment=deployment, state=Rollout.State.ROLLING):
        state, message = None, ""
        if rollout.kind == Rollout.Kind.HIBERNATE:
            if deployment.hibernating and running == 0:
                state, message = Rollout.State.DONE, "Every component is stopped."
        elif deployment.hibernating:
            continue  # applied at wake-up
        elif status == Deployment.Status.HEALTHY and rollout.applied_at is not None:  # not healthy on the old settings
            state, message = Rollout.State.DONE, "Every component runs it."
        if state is None and status == Deployment.Status.UNHEALTHY and now - rollout.created_at > deadline:
            state, message = Rollout.State.FAILED, reason
        if state is not None:
            Rollout.objects.filter(pk=rollout.pk, state=Rollout.State.ROLLING).update(
                state=state, message=message[:500], finished_at=now)
            rollout.state, rollout.message, rollout.finished_at = state, message[:500], now
            settled.append(rollout)
    return settled
