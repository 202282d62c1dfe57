"""Worker autoscaling from the broker's backlog, decided from plain data (the scenarios show it on
the real swarm: a backlog scales a queue up and back down)."""
from datetime import UTC, datetime, timedelta

from django.test import override_settings

from deployments.models import Deployment
from runtime.autoscale import autoscale, backlog_of, decide, queue_workers
from runtime.models import ComponentReport

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
QUEUE = {"name": "heavy", "min_workers": 0, "max_workers": 4, "concurrency": 2}


def test_a_backlog_asks_for_enough_workers_at_once_within_the_maximum():
    assert decide(QUEUE, {}, {"waiting": 3, "running": 0}, NOW)["workers"] == 2  # ceil(3 / 2)
    assert decide(QUEUE, {}, {"waiting": 50, "running": 2}, NOW)["workers"] == 4
    assert decide(QUEUE, {"workers": 1}, {"waiting": 0, "running": 0}, NOW)["workers"] == 1  # not down at once


@override_settings(AIRDOCK_AUTOSCALE_COOLDOWN=60)
def test_it_scales_down_only_after_the_cooldown_and_never_below_the_running_tasks():
    state = decide(QUEUE, {"workers": 3}, {"waiting": 0, "running": 3}, NOW)
    assert state["workers"] == 3 and state["low_since"]  # three running tasks need ceil(3 / 2) = 2: the cooldown starts
    state = decide(QUEUE, state, {"waiting": 0, "running": 3}, NOW + timedelta(seconds=30))
    assert state["workers"] == 3
    later = decide(QUEUE, state, {"waiting": 0, "running": 3}, NOW + timedelta(seconds=62))
    assert later["workers"] == 2  # the running tasks still have their workers
    idle = decide(QUEUE, later, {"waiting": 0, "running": 0}, NOW + timedelta(seconds=63))
    idle = decide(QUEUE, idle, {"waiting": 0, "running": 0}, NOW + timedelta(seconds=130))
    assert idle["workers"] == 0  # min_workers


@override_settings(AIRDOCK_AUTOSCALE_COOLDOWN=60)
def test_a_busy_moment_in_the_cooldown_starts_it_again():
    state = decide(QUEUE, {"workers": 2}, {"waiting": 0, "running": 0}, NOW)
    state = decide(QUEUE, state, {"waiting": 4, "running": 0}, NOW + timedelta(seconds=30))
    assert state["workers"] == 2 and state["low_since"] == ""
    state = decide(QUEUE, state, {"waiting": 0, "running": 0}, NOW + timedelta(seconds=70))
    assert state["workers"] == 2  # a new cooldown from here


def test_without_a_fresh_broker_reading_nothing_changes():
    assert decide(QUEUE, {"workers": 3}, None, NOW)["workers"] == 3
    stale = ComponentReport(component="scheduler", process="running", metrics={"queues": {"heavy": {"waiting": 9}}},
                            reported_at=NOW - timedelta(minutes=10))
    assert backlog_of([stale], NOW) is None


def test_the_deployment_runs_the_autoscalers_number_within_its_settings():
    deployment = Deployment(worker_queues=[{"name": "default", "min_workers": 1, "max_workers": 3, "concurrency": 5}, QUEUE],
                            runtime_autoscale={"default": {"workers": 7}})
    assert queue_workers(deployment, deployment.worker_queues[0]) == 3  # the maximum was lowered since
    assert queue_workers(deployment, QUEUE) == 0
    fresh = ComponentReport(component="scheduler", process="running", reported_at=NOW,
                            metrics={"queues": {"default": {"waiting": 0, "running": 1}, "heavy": {"waiting": 1, "running": 0}}})
    states, changed = autoscale(deployment, [fresh], NOW)
    assert changed == ["heavy"] and states["heavy"]["workers"] == 1 and states["heavy"]["waiting"] == 1
