"""The deploy state machine: the only place a deploy's (and its steps') state changes.

Every change is a compare-and-set on the current state, so a cancelled deploy, or a job that
comes back after its deploy was failed as lost, can never move it again or activate anything.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from tenancy.audit import Actor, audit_record
from tenancy.models import Organization

from ... import events
from ...integrations import containers
from ...models import Deploy, Deployment, DeployStep
from .. import notifications, runtime
from .log import log_compact

logger = logging.getLogger(__name__)
State = Deploy.State
TEMP_PREFIX = "airdock-deploy-"  # a run's temporary folder: <tmp>/airdock-deploy-<id>-<random>


class Cancelled(Exception):
    """Control flow, not an error: the deploy was cancelled (or failed) while its job ran."""


BEGUN, TAKEN, WAIT = "begun", "taken", "wait"


def deploy_begin(deploy_id: int, worker: str = "") -> str:
    """Mark a queued deploy as started by `worker` (its lease begins): BEGUN; TAKEN when another job
    already started (or ended) it; WAIT when its organization already runs
    AIRDOCK_ORG_CONCURRENT_DEPLOYS deploys, so that one tenant's burst never takes every worker."""
    limit = settings.AIRDOCK_ORG_CONCURRENT_DEPLOYS
    organization = Deploy.objects.filter(pk=deploy_id).values_list("deployment__workspace__organization", flat=True).first()
    with transaction.atomic():  # SQLite: BEGIN IMMEDIATE; PostgreSQL: the organization's row lock
        if limit and organization is not None:
            list(Organization.objects.select_for_update().filter(pk=organization).values_list("pk"))
            running = Deploy.objects.filter(
                deployment__workspace__organization=organization, state__in=Deploy.ACTIVE_STATES, started_at__isnull=False,
            ).exclude(pk=deploy_id).count()
            if running >= limit:
                return WAIT if Deploy.objects.filter(pk=deploy_id, state=State.QUEUED, started_at__isnull=True).exists() else TAKEN
        now = timezone.now()  # read under the lock: a deploy that ended while this one waited for it ended before
        begun = Deploy.objects.filter(pk=deploy_id, state=State.QUEUED, started_at__isnull=True).update(
            started_at=now, heartbeat_at=now, worker=worker[:200])
    return BEGUN if begun else TAKEN


def deploy_heartbeat(deploy_id: int) -> bool:
    """Renew the running deploy's lease; False once it has ended (cancelled, or failed as lost)."""
    return bool(Deploy.objects.filter(pk=deploy_id, state__in=Deploy.ACTIVE_STATES).update(heartbeat_at=timezone.now()))


def step_begin(deploy: Deploy, step: DeployStep) -> None:
    """Move the deploy into `step` (raise Cancelled when it has ended meanwhile)."""
    if not Deploy.objects.filter(pk=deploy.pk, state__in=Deploy.ACTIVE_STATES).update(state=step.name):
        raise Cancelled()
    deploy.state = step.name
    step.state, step.started_at = DeployStep.State.RUNNING, timezone.now()
    step.save(update_fields=["state", "started_at"])
    events.deploy_state(deploy, step)


def step_end(deploy: Deploy, step: DeployStep, state: str, message: str = "") -> None:
    step.state, step.finished_at = state, timezone.now()
    step.message = message or step.message
    step.save(update_fields=["state", "finished_at", "message"])
    if step.name != State.ACTIVATING:  # activation reports itself, with the deploy's final state
        events.deploy_state(deploy, step)


def deploy_finish(deploy_id: int, state: str, error: str = "") -> bool:
    """Move an active deploy to a final state; mark its unfinished steps. False if it had ended."""
    with transaction.atomic():
        now = timezone.now()
        done = Deploy.objects.filter(pk=deploy_id, state__in=Deploy.ACTIVE_STATES).update(
            state=state, finished_at=now, error=error[:10_000]
        )
        if done:
            step_state = DeployStep.State.FAILED if state == State.FAILED else DeployStep.State.SKIPPED
            DeployStep.objects.filter(deploy_id=deploy_id, state=DeployStep.State.RUNNING).update(
                state=step_state, finished_at=now, message=error[:2000]
            )
            DeployStep.objects.filter(deploy_id=deploy_id, state=DeployStep.State.PENDING).update(
                state=DeployStep.State.SKIPPED
            )
            deploy = Deploy.objects.select_related("deployment__workspace__organization").get(pk=deploy_id)
            events.deploy_state(deploy)
            events.deployment_changed(deploy.deployment)
            if state == State.FAILED:
                notifications.notify(deploy.deployment, "deploy_failed", deploy=deploy)
    return bool(done)


def deploy_is_active(deploy_id: int) -> bool:
    return Deploy.objects.filter(pk=deploy_id, state__in=Deploy.ACTIVE_STATES).exists()


def deploy_cancel(*, deploy: Deploy, user: AbstractBaseUser | None = None) -> bool:
    """Cancel an active deploy. A running one stops at its next log flush or step; nothing changes."""
    who = f" by {user.get_username()}" if user is not None else ""
    if not deploy_finish(deploy.pk, State.CANCELLED, f"Cancelled{who}."):
        return False
    audit_record(organization=deploy.deployment.workspace.organization, action="deploy.cancel",
                 target=f"deploy {deploy.pk} of {deploy.deployment.name}", actor=Actor(user=user))
    with contextlib.suppress(Exception):
        import django_rq
        from rq.job import Job

        Job.fetch(deploy.job_id, connection=django_rq.get_connection("deploys")).cancel()
    return True


def deploys_fail_lost(*, deployment: Deployment | None = None) -> int:
    """Fail active deploys whose job is gone (worker killed, Redis flushed), so none stays "in progress"."""
    import django_rq
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    active = Deploy.objects.filter(state__in=Deploy.ACTIVE_STATES)
    if deployment is not None:
        active = active.filter(deployment=deployment)
    failed = _fail_expired_leases(active)
    active = active.filter(started_at__isnull=True)  # not begun: is its job still there?
    connection = django_rq.get_connection("deploys")
    for deploy in active.only("pk", "created_at", "job_id"):
        try:
            status = Job.fetch(deploy.job_id, connection=connection).get_status(refresh=True) if deploy.job_id else None
        except NoSuchJobError:
            status = None
        except Exception:  # noqa: BLE001 - Redis unreachable: cannot judge, leave it
            return failed
        if status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
            continue
        if status is None and (timezone.now() - deploy.created_at).total_seconds() < 30:
            continue  # enqueued on commit a moment ago
        what = f"its job ended as {status}" if status else "its job is gone"
        if deploy_finish(deploy.pk, State.FAILED, f"The worker running this deploy stopped ({what}); nothing was changed. Deploy again."):
            failed += 1
    return failed


def _fail_expired_leases(active) -> int:
    """Fail the started deploys whose worker has not renewed their lease in time (killed, or its
    machine gone), and remove what they left: their check containers and temporary folder."""
    now = timezone.now()
    lease = timedelta(seconds=settings.AIRDOCK_DEPLOY_LEASE_SECONDS)
    failed = 0
    for deploy in active.filter(started_at__isnull=False, heartbeat_at__lt=now - lease).only("pk", "state", "heartbeat_at", "worker"):
        quiet = int((now - deploy.heartbeat_at).total_seconds())
        step = Deploy.State(deploy.state).label.lower()
        message = (f"The worker running this deploy was lost ({deploy.worker or 'unknown'} gave no sign of life for "
                   f"{quiet} s, while {step}); nothing was changed. Deploy again.")
        if deploy_finish(deploy.pk, State.FAILED, message):
            failed += 1
            logger.warning("deploy %s: %s", deploy.pk, message)
        cleanup_lost(deploy.pk)
        log_compact(deploy.pk)
    return failed


def cleanup_lost(deploy_id: int) -> None:
    """What a lost run leaves behind on this machine: its check containers, its temporary folder."""
    with contextlib.suppress(Exception):
        containers.containers_remove({"io.airdock.deploy": str(deploy_id)})
    for folder in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}{deploy_id}-*"):
        shutil.rmtree(folder, ignore_errors=True)


@transaction.atomic
def deploy_activate(*, deploy: Deploy) -> None:
    """Make the deployment run what this deploy produced: the one place desired state changes."""
    deployment = Deployment.objects.select_for_update().get(pk=deploy.deployment_id)
    now = timezone.now()
    moved = Deploy.objects.filter(pk=deploy.pk, state=State.ACTIVATING).update(state=State.SUCCEEDED, finished_at=now)
    if not moved:
        raise Cancelled()
    fields = ["current_deploy", "status", "status_reason", "updated_at"]
    if deploy.image_digest:
        deployment.desired_image_repository = deploy.image_repository
        deployment.desired_image_tag = deploy.image_tag
        deployment.desired_image_digest = deploy.image_digest
        deployment.desired_airflow_version = deploy.airflow_version
        deployment.desired_runtime_version = deploy.runtime_version
        fields += [
            "desired_image_repository", "desired_image_tag", "desired_image_digest", "desired_airflow_version",
            "desired_runtime_version",
        ]
        if deploy.runtime_version and deploy.runtime_requested:
            deployment.runtime_image = deploy.runtime_requested  # the setting says what really runs
            fields.append("runtime_image")
    if deploy.dag_bundle_version:
        deployment.desired_dag_bundle_version = deploy.dag_bundle_version
        fields.append("desired_dag_bundle_version")
    deployment.current_deploy = deploy
    if deployment.hibernating:  # stored now, run at wake-up
        deployment.status = Deployment.Status.HIBERNATING
        deployment.status_reason = f"Hibernating; deploy {deploy.pk} is activated and runs when the deployment wakes up."
    else:
        deployment.status = Deployment.Status.DEPLOYING
        deployment.status_reason = f"Deploy {deploy.pk} activated; waiting for the Airflow components to run it."
    deployment.save(update_fields=fields)
    DeployStep.objects.filter(deploy=deploy, name=State.ACTIVATING).update(
        state=DeployStep.State.SUCCEEDED, finished_at=now
    )
    deploy.state, deploy.finished_at = State.SUCCEEDED, now
    events.deploy_state(deploy, DeployStep.objects.get(deploy=deploy, name=State.ACTIVATING))
    events.deployment_changed(deployment)
    notifications.notify(deployment, "deploy_succeeded", deploy=deploy)
    runtime.reconcile_soon(deployment.pk)
