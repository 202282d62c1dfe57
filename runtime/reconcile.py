"""The reconcile pass: compare a deployment's desired state with what Swarm runs and ask Swarm to
converge. Every step is idempotent (content-addressed secrets, specs compared by hash), so running
it twice changes nothing and a pass cut short (the portal restarted) is finished by the next one.

Order: network, secrets, the agent's config, the database and broker, the database migrations of a
new image (a one-off job, before any component runs the image), the Airflow components (rolling,
start-first), then whatever of the deployment no spec names any more is removed."""
from __future__ import annotations

import contextlib
import logging
import time

import django_rq
import docker.errors
from django.conf import settings
from django.db import transaction

from deployments import events
from deployments.models import Deployment
from deployments.services.rollouts import rollouts_applied, rollouts_pending

from . import spec as specs
from . import swarm
from .models import RuntimeCredentials
from .observe import observe

logger = logging.getLogger(__name__)


LOCK_SECONDS = 60
LOCK_WAIT = 5  # seconds a pass waits for the lock, twice


def _again_key(deployment_id: int) -> str:
    return f"airdock:reconcile:{deployment_id}:again"


@contextlib.contextmanager
def _lock(deployment_id: int):
    """One pass per deployment at a time, across workers. The lock lives a minute and a long pass
    renews it while it works, so one left by a killed pass is gone within a minute.

    A pass asked for while another runs is not lost: it leaves word ("again") for the running one,
    which passes once more before it lets go, so a change made during a pass (a new variable, a
    rollout) reaches Swarm at once instead of at the next periodic reconcile. Word left just as the
    running pass lets go finds the lock free on the second try."""
    redis = django_rq.get_connection("default")
    lock = redis.lock(f"airdock:reconcile:{deployment_id}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT)
    if not lock.acquire():
        redis.set(_again_key(deployment_id), 1, ex=LOCK_SECONDS * 10)
        if not lock.acquire():
            yield None
            return
    try:
        yield lock
    finally:
        with contextlib.suppress(Exception):
            lock.release()


def _set_status(deployment: Deployment, status: str, reason: str) -> None:
    with transaction.atomic():
        Deployment.objects.filter(pk=deployment.pk).update(status=status, status_reason=reason[:500])
        deployment.status, deployment.status_reason = status, reason[:500]
        events.deployment_changed(deployment)


GONE = "deployment gone: removed what ran"
MAX_PASSES = 5  # passes asked for during a pass, run at once; beyond, the periodic reconcile


def reconcile(deployment_id: int) -> str:
    """Converge one deployment; return what was done, in a few words."""
    with _lock(deployment_id) as lock:
        if lock is None:
            return "another pass is running"
        passes: list[str] = []
        while len(passes) < MAX_PASSES:
            lock.reacquire()
            lock.redis.delete(_again_key(deployment_id))  # this pass reads everything asked for until now
            passes.append(_pass(deployment_id, lock))
            if passes[-1] in (GONE, "nothing to run yet") or not lock.redis.exists(_again_key(deployment_id)):
                break
    done = next((d for d in passes if d != "in sync"), passes[-1])  # what was changed, when one of them changed things
    if done == GONE:
        teardown(deployment_id)  # outside the lock: it waits for containers to stop, up to 90 s
    elif done != "nothing to run yet":
        observe(deployment_id)
    return done


def _pass(deployment_id: int, lock) -> str:
    pending = rollouts_pending(deployment_id)  # first: the deployment read next holds their settings
    deployment = Deployment.objects.select_related("workspace__organization", "current_deploy").filter(pk=deployment_id).first()
    if deployment is None:
        return GONE
    if not deployment.desired_image_digest:
        return "nothing to run yet"
    try:
        done = _converge(deployment, renew=lock.reacquire)
        if done != "migrations failed":
            rollouts_applied(pending)
    except swarm.SwarmError as exc:
        _set_status(deployment, Deployment.Status.UNHEALTHY, f"The runtime cannot converge: {exc}")
        raise
    return done


def _converge(deployment: Deployment, renew) -> str:
    swarm.swarm_check()
    creds, _ = RuntimeCredentials.objects.get_or_create(deployment=deployment)
    wanted = specs.desired(deployment, creds, portal_url=specs.portal_url())
    labels = specs.labels(deployment)
    swarm.network_ensure(wanted.network, labels)
    for name, value in wanted.secrets.items():
        swarm.secret_ensure(name, value.encode(), labels)
    for name, (source, _) in specs.agent_configs().items():
        swarm.config_ensure(name, source.read_bytes(), {"io.airdock.agent": "1"})
    changed = [s.name for s in wanted.data if swarm.service_apply(s) != "unchanged"]
    image = wanted.migrate.labels["io.airdock.image"]
    if deployment.runtime_migrated_image != image and not deployment.hibernating:  # a hibernating one migrates at wake-up
        error = _migrate(wanted.migrate, renew)
        if error:
            _set_status(deployment, Deployment.Status.UNHEALTHY,
                        f"The database migrations of the new image failed, so the components keep their old image: {error}")
            return "migrations failed"
        Deployment.objects.filter(pk=deployment.pk).update(runtime_migrated_image=image)
    changed += [s.name for s in wanted.airflow if swarm.service_apply(s) != "unchanged"]
    names = {s.name for s in wanted.services} | {wanted.migrate.name}
    for service in swarm.services_list(specs.owner_labels(deployment.pk)):
        if service.name not in names:
            swarm.service_remove(service.name)
            changed.append(f"-{service.name}")
    swarm.objects_prune("secrets", specs.owner_labels(deployment.pk), keep=set(wanted.secrets))
    return f"changed {', '.join(changed)}" if changed else "in sync"


def _interrupted(task: dict) -> bool:
    """A migration task stopped by something other than the migration: Swarm took it back before it
    ran, its container vanished, or it was killed (an engine stopping sends SIGTERM, then SIGKILL)."""
    return ("no longer meets constraints" in task["error"] or "No such container" in task["error"]
            or task["exit_code"] in (None, 137, 143) or task["state"] in ("orphaned", "shutdown", "rejected"))


def _migrate(job: swarm.ServiceSpec, renew) -> str:
    """Run `airflow db migrate` of the new image once, to completion; return an error or ""."""
    existing = swarm.service_get(job.name)
    if existing is not None and existing.attrs["Spec"]["Labels"].get(swarm.SPEC_LABEL) != job.digest():
        _job_remove(job)  # an earlier image's job
    elif existing is not None:
        tasks = swarm.service_tasks(job.name)
        if tasks and not any(t["state"] == "complete" for t in tasks) and all(
                t["state"] in ("failed", "rejected", "orphaned", "shutdown") and _interrupted(t) for t in tasks):
            _job_remove(job)  # a pass cut short (the engine restarted mid-migration): this pass migrates again
    swarm.service_apply(job)
    deadline = time.monotonic() + settings.AIRDOCK_RUNTIME_MIGRATE_TIMEOUT
    retried = False
    while time.monotonic() < deadline:
        tasks = swarm.service_tasks(job.name)
        if any(t["state"] == "complete" for t in tasks):
            return ""
        failed = [t for t in tasks if t["state"] in ("failed", "rejected")]
        if failed and _interrupted(failed[0]) and not retried:
            retried = True  # not the migration's own failure: once more
            _job_remove(job)
            swarm.service_apply(job)
            continue
        if failed:
            logs = swarm.service_logs(job.name, tail=8).strip().splitlines()
            return f"{failed[0]['error'] or failed[0]['state']}; {' | '.join(logs[-4:])}"[:400]
        renew()
        time.sleep(1)
    return f"still running after {settings.AIRDOCK_RUNTIME_MIGRATE_TIMEOUT} s (AIRDOCK_RUNTIME_MIGRATE_TIMEOUT)"


def _job_remove(job: swarm.ServiceSpec) -> None:
    swarm.service_remove(job.name)
    for _ in range(60):
        if swarm.service_get(job.name) is None:
            break
        time.sleep(0.5)
    # Its finished container stays behind otherwise (the new job has not started yet: all are old).
    swarm.containers_prune({k: job.labels[k] for k in ("io.airdock.instance", "io.airdock.deployment", "io.airdock.component")})


def teardown(deployment_id: int) -> None:
    """Remove every service, secret and the network of a deployment that is gone, and, once its
    containers have stopped, its database's and broker's volumes."""
    labels = specs.owner_labels(deployment_id)
    for service in swarm.services_list(labels):
        swarm.service_remove(service.name)
    deadline = time.monotonic() + 90
    while swarm.containers_running(labels) and time.monotonic() < deadline:
        time.sleep(1)
    swarm.containers_prune(labels)
    with contextlib.suppress(docker.errors.APIError):
        swarm.objects_prune("secrets", labels, keep=set())
        swarm.network_remove(f"{specs.prefix(deployment_id)}-net")
    for component in specs.DATA_COMPONENTS:
        swarm.volume_remove(f"{specs.prefix(deployment_id)}-{component}")
