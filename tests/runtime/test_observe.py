"""What a component's state and the deployment's status are, from Swarm's tasks and the agents'
reports (plain data in: no engine needed). The scenarios in test_scenarios.py show the same on the
real swarm."""
from datetime import UTC, datetime, timedelta

from django.test import override_settings

from deployments.models import Deployment
from runtime.models import ComponentReport
from runtime.observe import _airflow_health, _component, status_of
from runtime.swarm import ServiceSpec

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NEW, OLD = "sha256:" + "c" * 64, "sha256:" + "a" * 64
BUNDLE = "b" * 64
SPEC = ServiceSpec(name="airdock-d1-scheduler", image=f"r/d@{NEW}", command=("airflow",), replicas=1, stop_grace_seconds=86400)


def task(image=NEW, desired="running", state="running", node="n1", since="2026-12-01T11:00:00.123456789Z", ident="t1",
         current=True):
    return {"id": ident, "slot": 1, "node": node, "state": state, "desired": desired, "error": "", "message": "",
            "since": since, "image": f"r/d@{image}", "container": "c", "exit_code": None, "addresses": [], "current": current}


def report(ident="t1", bundle=BUNDLE, age=5, process="running"):
    return ComponentReport(task_id=ident, component="scheduler", dag_bundle_version=bundle, process=process,
                           reported_at=NOW - timedelta(seconds=age))


def observe_one(tasks, reports, *, started_ago=60, health=None, name="scheduler", spec=SPEC):
    return _component(name, spec, tasks, {r.task_id: r for r in reports}, want_digest=NEW, want_bundle=BUNDLE,
                      airflow_health=health or {}, started=NOW - timedelta(seconds=started_ago), now=NOW,
                      nodes={"n1": "machine-1", "n2": "machine-2"})


@override_settings(AIRDOCK_RUNTIME_HEARTBEAT_TIMEOUT=90, AIRDOCK_RUNTIME_ROLLOUT_DEADLINE=600)
def test_a_component_on_the_desired_versions_that_reports_is_healthy_and_names_its_machine():
    [entry] = observe_one([task()], [report()], health={"scheduler": {"status": "healthy"}})
    assert entry["state"] == "healthy" and entry["reason"] == ""
    assert entry["running_image_digest"] == NEW and entry["running_dag_bundle_version"] == BUNDLE
    assert entry["nodes"] == ["machine-1"]


@override_settings(AIRDOCK_RUNTIME_HEARTBEAT_TIMEOUT=90, AIRDOCK_RUNTIME_ROLLOUT_DEADLINE=600)
def test_a_component_on_an_old_image_is_starting_then_unhealthy_past_the_deadline_saying_for_how_long():
    [rolling] = observe_one([task(image=OLD)], [report()], started_ago=120)
    assert rolling["state"] == "starting"
    assert rolling["reason"] == f"runs {OLD[:19]}… not {NEW[:19]}…"
    [stuck] = observe_one([task(image=OLD)], [report()], started_ago=660)
    assert stuck["state"] == "unhealthy"
    assert stuck["reason"] == f"runs {OLD[:19]}… not {NEW[:19]}… for 11 min"
    status, reason = status_of([stuck], Deployment(pk=1))
    assert status == Deployment.Status.UNHEALTHY and reason == f"scheduler: runs {OLD[:19]}… not {NEW[:19]}… for 11 min"


@override_settings(AIRDOCK_RUNTIME_HEARTBEAT_TIMEOUT=90, AIRDOCK_RUNTIME_ROLLOUT_DEADLINE=600)
def test_a_task_made_from_the_services_previous_spec_is_still_rolling_out_though_healthy():
    """A settings change (an environment variable, resources) keeps the image and bundle: the task
    is the old one until Swarm has replaced it, and the deployment is DEPLOYING meanwhile."""
    [rolling] = observe_one([task(current=False)], [report()], started_ago=30, health={"scheduler": {"status": "healthy"}})
    assert rolling["state"] == "starting" and rolling["reason"] == "runs its previous settings (Swarm is replacing it)"
    assert status_of([rolling], Deployment(pk=1))[0] == Deployment.Status.DEPLOYING
    [stuck] = observe_one([task(current=False)], [report()], started_ago=660)
    assert stuck["state"] == "unhealthy" and stuck["reason"].endswith("for 11 min")


@override_settings(AIRDOCK_RUNTIME_HEARTBEAT_TIMEOUT=90, AIRDOCK_RUNTIME_ROLLOUT_DEADLINE=600)
def test_a_silent_agent_past_the_heartbeat_timeout_is_named_with_its_silence():
    [entry] = observe_one([task()], [report(age=95)], started_ago=900)
    assert entry["state"] == "unhealthy" and entry["reason"] == "no heartbeat for 95 s"
    assert status_of([entry], Deployment(pk=1)) == (Deployment.Status.UNHEALTHY, "scheduler: no heartbeat for 95 s")


@override_settings(AIRDOCK_RUNTIME_HEARTBEAT_TIMEOUT=90, AIRDOCK_RUNTIME_ROLLOUT_DEADLINE=600)
def test_airflows_own_health_answer_counts():
    [entry] = observe_one([task()], [report()], started_ago=900, health={"scheduler": {"status": "unhealthy"}})
    assert entry["state"] == "unhealthy" and entry["reason"] == "Airflow reports it unhealthy"


@override_settings(AIRDOCK_RUNTIME_HEARTBEAT_TIMEOUT=90, AIRDOCK_RUNTIME_ROLLOUT_DEADLINE=600)
def test_an_old_worker_finishing_its_tasks_is_draining_until_its_grace_period_ends():
    worker = ServiceSpec(name="airdock-d1-worker-default", image=f"r/d@{NEW}", command=("airflow",), stop_grace_seconds=86400)
    tasks = [task(ident="new", node="n2"),
             task(ident="old", image=OLD, desired="shutdown", since="2026-12-01T11:59:00.5Z")]
    current, draining = observe_one(tasks, [report("new")], name="worker-default", spec=worker)
    assert current["state"] == "healthy" and current["nodes"] == ["machine-2"]
    assert draining["state"] == "draining" and draining["running_image_digest"] == OLD
    assert draining["grace_ends_at"] == "2026-12-02T11:59:00.500000+00:00"
    status, reason = status_of([current, draining], Deployment(pk=1, current_deploy_id=7))
    assert status == Deployment.Status.HEALTHY
    assert reason == "Running deploy 7; old worker-default finishing their tasks."


@override_settings(AIRDOCK_RUNTIME_HEARTBEAT_TIMEOUT=90, AIRDOCK_RUNTIME_ROLLOUT_DEADLINE=600)
def test_a_component_without_a_report_yet_is_waited_for():
    [entry] = observe_one([task()], [], started_ago=30)
    assert entry["state"] == "starting" and entry["reason"] == "its agent has not reported yet"
    status, reason = status_of([entry], Deployment(pk=1))
    assert status == Deployment.Status.DEPLOYING and reason == "Waiting for scheduler (its agent has not reported yet)"


@override_settings(AIRDOCK_RUNTIME_OOM_WINDOW=600)
def test_a_component_whose_process_ran_out_of_memory_is_unhealthy_saying_so():
    from runtime.observe import _memory

    spec = ServiceSpec(name="airdock-d1-worker-default", image=f"r/d@{NEW}", command=("airflow",), memory=512)
    killed = ComponentReport(task_id="t1", component="worker-default", process="running", reported_at=NOW,
                             metrics={"memory_bytes": 300 * 2**20, "oom_kills": 1, "oom_kills_new": 1,
                                      "oom_at": (NOW - timedelta(minutes=2)).isoformat()})
    entry = {"tasks": [{"id": "t1"}]}
    reason = _memory("worker-default", spec, {"t1": killed}, entry, NOW)
    assert reason == "ran out of memory at 11:58 UTC: 1 process killed at its 512 MiB limit; give it more memory (resources)"
    assert entry["memory_mib"] == 300 and entry["memory_limit_mib"] == 512
    assert _memory("worker-default", spec, {"t1": killed}, entry, NOW + timedelta(minutes=15)) == ""  # past the window


def test_a_hibernating_deployment_is_hibernating_until_nothing_runs():
    stopping = [{"name": "scheduler", "state": "stopped", "running": 0}, {"name": "worker-default", "state": "draining", "running": 1}]
    status, reason = status_of(stopping, Deployment(pk=1, hibernating=True))
    assert status == Deployment.Status.HIBERNATING and reason == "Hibernating: stopping worker-default."
    status, reason = status_of([{"name": "scheduler", "state": "stopped", "running": 0}], Deployment(pk=1, hibernating=True))
    assert status == Deployment.Status.HIBERNATING and reason.startswith("Hibernating: nothing runs")


def test_a_queue_scaling_up_keeps_the_deployment_healthy():
    components = [{"name": "scheduler", "state": "healthy", "running": 1},
                  {"name": "worker-heavy", "state": "scaling", "running": 1, "reason": "scaling to 2 workers (1 running)"}]
    assert status_of(components, Deployment(pk=1, current_deploy_id=3))[0] == Deployment.Status.HEALTHY


@override_settings(AIRDOCK_RUNTIME_HEARTBEAT_TIMEOUT=90, AIRDOCK_RUNTIME_ROLLOUT_DEADLINE=600)
def test_one_late_heartbeat_that_airflow_calls_unhealthy_is_not_yet_trouble():
    late = {"status": "unhealthy", "latest_scheduler_heartbeat": (NOW - timedelta(seconds=20)).isoformat()}
    [entry] = observe_one([task()], [report()], started_ago=900, health={"scheduler": late})
    assert entry["state"] == "healthy"
    gone = {"status": "unhealthy", "latest_scheduler_heartbeat": (NOW - timedelta(seconds=200)).isoformat()}
    [entry] = observe_one([task()], [report()], started_ago=900, health={"scheduler": gone})
    assert entry["state"] == "unhealthy" and entry["reason"] == "Airflow reports it unhealthy"


def test_airflows_health_comes_from_the_newest_report_of_a_running_api_server_not_an_old_tasks_last_one():
    def answer(ident, status, age):
        return ComponentReport(task_id=ident, component="api-server", process="running", reported_at=NOW - timedelta(seconds=age),
                               airflow_health={"scheduler": {"status": status}})
    gone, earlier, newest = answer("gone", "unhealthy", 1), answer("new", "unhealthy", 30), answer("newer", "healthy", 2)
    assert _airflow_health([gone, earlier, newest], live={"new", "newer"}) == {"scheduler": {"status": "healthy"}}
    assert _airflow_health([gone], live={"new"}) == {}
