"""Worker autoscaling: each worker queue runs as many Celery workers as its backlog needs, between
its min_workers and max_workers.

The backlog comes from the deployment's broker, read by the scheduler's agent and sent with its
reports: the messages waiting in the queue and those taken by a worker and not yet done (Airflow's
Celery acknowledges a task when it ends, so a running task's message stays "unacked" until then).
Workers needed = ceil((waiting + running) / concurrency), the formula Astro's KEDA scaler uses, so
a queue never has fewer workers than its running tasks need. Up at once; down only once fewer
have been needed for AIRDOCK_AUTOSCALE_COOLDOWN seconds (a worker stopped by a scale-down finishes
its tasks first: Celery's warm shutdown, within the worker grace period)."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.dateparse import parse_datetime

from deployments.models import Deployment


def clamp(value: int, queue: dict) -> int:
    return min(max(value, queue["min_workers"]), queue["max_workers"])


def queue_workers(deployment: Deployment, queue: dict) -> int:
    """How many workers the queue runs now: the autoscaler's last word, within min and max."""
    state = deployment.runtime_autoscale.get(queue["name"]) or {}
    return clamp(int(state.get("workers", queue["min_workers"])), queue)


def needed(queue: dict, waiting: int, running: int) -> int:
    return clamp(math.ceil((waiting + running) / queue["concurrency"]), queue)


def decide(queue: dict, state: dict, backlog: dict | None, now: datetime) -> dict:
    """The queue's next state: {"workers", "waiting", "running", "changed_at", "low_since"}."""
    current = clamp(int(state.get("workers", queue["min_workers"])), queue)
    new = {"workers": current, "changed_at": state.get("changed_at", ""), "low_since": state.get("low_since", ""),
           "waiting": state.get("waiting"), "running": state.get("running")}
    if backlog is None:  # the broker's word is not known (scheduler not reporting): change nothing
        return new
    waiting, running = int(backlog.get("waiting", 0)), int(backlog.get("running", 0))
    new.update(waiting=waiting, running=running)
    need = needed(queue, waiting, running)
    if need > current:
        new.update(workers=need, changed_at=now.isoformat(), low_since="")
    elif need < current:
        low_since = parse_datetime(new["low_since"]) if new["low_since"] else None
        if low_since is None:
            new["low_since"] = now.isoformat()
        elif now - low_since >= timedelta(seconds=settings.AIRDOCK_AUTOSCALE_COOLDOWN):
            new.update(workers=need, changed_at=now.isoformat(), low_since="")
    else:
        new["low_since"] = ""
    return new


def backlog_of(reports: list, now: datetime) -> dict | None:
    """The freshest broker reading among the scheduler's reports, or None when it is stale."""
    fresh = timedelta(seconds=settings.AIRDOCK_RUNTIME_HEARTBEAT_TIMEOUT)
    readings = [r for r in reports if r.component == "scheduler" and r.process == "running"
                and isinstance(r.metrics.get("queues"), dict) and now - r.reported_at <= fresh]
    if not readings:
        return None
    return max(readings, key=lambda r: r.reported_at).metrics["queues"]


def autoscale(deployment: Deployment, reports: list, now: datetime) -> tuple[dict, list[str]]:
    """Every queue's next state, and the queues whose number of workers changed."""
    backlog = backlog_of(reports, now)
    states, changed = {}, []
    for queue in deployment.worker_queues:
        before = deployment.runtime_autoscale.get(queue["name"]) or {}
        reading = None if backlog is None else backlog.get(queue["name"], {"waiting": 0, "running": 0})
        states[queue["name"]] = decide(queue, before, reading, now)
        if states[queue["name"]]["workers"] != queue_workers(deployment, queue):
            changed.append(queue["name"])
    return states, changed
