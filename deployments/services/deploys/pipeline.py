"""Executing a deploy (the RQ job's work): run the planned steps in order, and make sure that,
whatever happens, the deploy ends SUCCEEDED, FAILED or CANCELLED.

    for name in ctx.plan:
        with ctx.step(name):
            STEPS[name](ctx)
"""
from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable

import django_rq
from django.conf import settings
from django.db import connection
from rq.job import Job

from portal.errors import AirdockError

from ...models import Deploy
from .. import upgrades
from . import states
from .context import RunContext
from .create import JOB
from .log import DeployLog, log_compact
from .steps.activate import activate
from .steps.build import build
from .steps.parse import parse
from .steps.push import push
from .steps.test import pytest
from .steps.unpack import unpack
from .steps.upload import upload_dags

logger = logging.getLogger(__name__)
State = Deploy.State
WAITING = "Waiting for a free slot:"

STEPS: dict[str, Callable[[RunContext], None]] = {
    State.UNPACKING: unpack,
    State.BUILDING: build,
    State.PARSING: parse,
    State.TESTING: pytest,
    State.PUSHING: push,
    State.UPLOADING_DAGS: upload_dags,
    State.ACTIVATING: activate,
}


def deploy_execute(*, deploy_id: int) -> None:
    """Run a queued deploy to its end."""
    deploy = Deploy.objects.select_related("deployment__workspace__organization").get(pk=deploy_id)
    if deploy.state != State.QUEUED:
        if deploy.is_active:  # this job ran before and its worker died mid-way
            states.deploy_finish(deploy_id, State.FAILED, "The worker running this deploy stopped before it ended; nothing was changed. Deploy again.")
        return
    begun = states.deploy_begin(deploy_id, worker=f"{socket.gethostname()}:{os.getpid()}")
    if begun == states.WAIT:
        _wait_for_a_slot(deploy)
    if begun != states.BEGUN:
        return
    deploy.refresh_from_db()
    try:
        with _lease(deploy_id), RunContext.open(deploy) as ctx:
            _run(ctx)
    finally:
        with contextlib.suppress(Exception):  # the rows stay readable; the next prune packs them
            log_compact(deploy_id)


def _wait_for_a_slot(deploy: Deploy) -> None:
    """Its organization runs as many deploys as it may: put the job back at the end of the queue (after
    a pause, so a worker with nothing else to do does not spin), leaving the worker to other tenants."""
    time.sleep(settings.AIRDOCK_ORG_DEFER_SECONDS)
    job_id = f"deploy-{secrets.token_hex(8)}"
    queue = django_rq.get_queue("deploys")
    queue.enqueue(JOB, deploy.pk, job_id=job_id, job_timeout=settings.AIRDOCK_DEPLOY_JOB_TIMEOUT, failure_ttl=7 * 24 * 3600)
    if not Deploy.objects.filter(pk=deploy.pk, state=State.QUEUED, started_at__isnull=True).update(job_id=job_id):
        with contextlib.suppress(Exception):
            Job.fetch(job_id, connection=queue.connection).cancel()  # cancelled meanwhile
        return
    if not deploy.log_lines.filter(text__startswith=WAITING).exists():
        log = DeployLog(deploy)
        log(f"{WAITING} {deploy.deployment.workspace.organization.name} already runs "
            f"{settings.AIRDOCK_ORG_CONCURRENT_DEPLOYS} deploys at once (AIRDOCK_ORG_CONCURRENT_DEPLOYS); "
            "this one starts when one of them ends.")
        log.flush()


@contextlib.contextmanager
def _lease(deploy_id: int):
    """Renew the deploy's lease from a thread of its own while the run goes on (a step may be silent
    for minutes): if this process dies, the lease runs out and the reaper fails the deploy."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.AIRDOCK_DEPLOY_HEARTBEAT_SECONDS):
                try:
                    if not states.deploy_heartbeat(deploy_id):
                        return
                except Exception:
                    logger.warning("cannot renew the lease of deploy %s", deploy_id, exc_info=True)
        finally:
            connection.close()  # this thread's own

    threading.Thread(target=beat, daemon=True, name=f"deploy-{deploy_id}-lease").start()
    try:
        yield
    finally:
        stop.set()


def _run(ctx: RunContext) -> None:
    try:
        for name in ctx.plan:
            with ctx.step(name):
                STEPS[name](ctx)
        ctx.log.step = ""
        if ctx.deploy.is_rollback:
            ctx.log(f"Rolled back to deploy {ctx.deploy.source_deploy_id}.")
        else:
            ctx.log(f"Deploy {ctx.deploy.pk} succeeded ({ctx.deploy.get_kind_display().lower()}).")
        upgrades.readiness_enqueue(deploy=ctx.deploy)
    except states.Cancelled:
        ctx.log.step = ""
        with contextlib.suppress(states.Cancelled):  # its flush finds the deploy ended, as it is
            ctx.log("Deploy cancelled; nothing was changed.")
    except AirdockError as exc:  # a failed check, a refused build, push or upload: the user's message
        _fail(ctx, exc.message)
    except BaseException as exc:  # the job's time limit, a bug: still never left in progress
        logger.exception("deploy %s failed unexpectedly", ctx.deploy.pk)
        _fail(ctx, f"The deploy stopped unexpectedly: {exc.__class__.__name__}: {exc}")
        if not isinstance(exc, Exception):
            raise
    finally:
        with contextlib.suppress(Exception):
            ctx.log.close()


def _fail(ctx: RunContext, message: str) -> None:
    with contextlib.suppress(states.Cancelled, Exception):
        ctx.log(f"ERROR: {message}")
        ctx.log("The deploy failed; the deployment keeps running what it ran before.")
        ctx.log.close()
    states.deploy_finish(ctx.deploy.pk, State.FAILED, message)
