"""Operating the running deployments of test_scenarios.py (the package's `lines`), in order, as a
user would through the API, on the real swarm with real Airflow:

1. the Airflow 2 deployment hibernates: none of its containers is left, it shows HIBERNATING;
2. a second worker queue with its own memory and no worker when idle: its tasks run on its own
   workers, its backlog scales it up to two workers and back to none; a change of settings is a
   rollout that ends DONE; resources become Swarm limits and reservations;
3. a task over its queue's memory is killed, and the queue's workers are reported as out of memory;
4. a component's log lines reach the API, `airdock deployment logs` and, live, the logs page in
   Chromium (the portal's ASGI server on the same database);
5. the Airflow 3 deployment hibernates, takes a DAG-only deploy while hibernating, and wakes up
   HEALTHY on the same image and the new DAG bundle."""
import json
import os
import subprocess
import time
from pathlib import Path

import docker
import pytest
from django.test import Client, override_settings
from playwright.sync_api import expect, sync_playwright

from deployments.models import Deploy, Deployment
from deployments.services import deployments as deployment_settings
from runtime.jobs import reconcile_deployment
from runtime.observe import observe
from tests.asgi import start_daphne
from tests.projects import GOOD_DAG_3

from .airflow import (
    airflow_api,
    deploy,
    service_containers,
    trigger,
    wait_for_dag,
    xcom,
)
from .checks import api, cli, healthy_on
from .conftest import PREFIX, wait_for

pytestmark = [pytest.mark.services]
HEAVY = {"name": "heavy", "min_workers": 0, "max_workers": 2, "concurrency": 1, "memory": 1024}
MIB = 2**20
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def quick_autoscaling():
    """Scale down 30 s after the backlog drops, and report memory trouble for a minute (defaults:
    five and ten minutes)."""
    with override_settings(AIRDOCK_AUTOSCALE_COOLDOWN=30, AIRDOCK_RUNTIME_OOM_WINDOW=60):
        yield


def post(lines, deployment_id: int, action: str) -> dict:
    answer = Client().post(f"/api/v1/deployments/{deployment_id}/{action}", HTTP_AUTHORIZATION=f"Bearer {lines.token}")
    assert answer.status_code == 200, answer.content
    return answer.json()


def component(deployment: Deployment, name: str) -> dict:
    return next((c for c in deployment.runtime_components if c["name"] == name and c["state"] != "draining"), {})


def hibernated(deployment_id: int):
    return lambda d: d.status == Deployment.Status.HIBERNATING and not service_containers(deployment_id)


def test_a_hibernating_deployment_runs_no_container(lines):
    af = lines.af2
    assert post(lines, af.id, "hibernate")["status"] == "HIBERNATING"
    reconcile_deployment(af.id)
    wait_for(af.id, hibernated(af.id), timeout=240, what="no container left")
    assert api(lines, af.id, "/rollouts")[0]["kind"] == "hibernate"
    assert api(lines, af.id, "/rollouts")[0]["state"] == "DONE"


def test_a_second_queue_runs_its_tasks_on_its_own_workers_and_scales_with_its_backlog(lines):
    af = lines.af3
    deployment_settings.deployment_update(
        deployment=Deployment.objects.get(pk=af.id), resources={"triggerer": {"cpu": 0.5, "memory": 1536}},
        worker_queues=[{"name": "default", "min_workers": 1, "max_workers": 1, "concurrency": 5}, HEAVY])
    assert reconcile_deployment(af.id).startswith("changed")
    wait_for(af.id, lambda d: healthy_on(af.digest, af.bundle)(d) and component(d, "worker-heavy").get("state") == "stopped"
             and api(lines, af.id, "/rollouts")[0]["state"] == "DONE", timeout=300, what="the queue and resources rolled out")
    [change] = [r for r in api(lines, af.id, "/rollouts") if r["kind"] == "settings"][:1]
    assert change["summary"] == "resources, worker_queues" and change["state"] == "DONE"

    services = {s.attrs["Spec"]["Labels"]["io.airdock.component"]: s.attrs["Spec"]["TaskTemplate"]["Resources"]
                for s in docker.from_env().services.list(filters={"label": [f"io.airdock.instance={PREFIX}",
                                                                            f"io.airdock.deployment={af.id}"]})}
    assert services["triggerer"]["Limits"]["NanoCPUs"] == 500_000_000
    assert services["triggerer"]["Limits"]["MemoryBytes"] == 1536 * MIB
    assert services["triggerer"]["Reservations"]["MemoryBytes"] == int(1536 * MIB * 0.1)
    assert services["worker-heavy"]["Limits"]["MemoryBytes"] == 1024 * MIB
    assert services["scheduler"]["Limits"]["MemoryBytes"] == 2048 * MIB  # the default

    run = trigger(af.id, 3, "queues_dag")  # two one-at-a-time tasks wait on "heavy": two workers
    wait_for(af.id, lambda d: component(d, "worker-heavy").get("running") == 2, timeout=300, what="two heavy workers")
    queue = next(q for q in api(lines, af.id)["worker_queues"] if q["name"] == "heavy")
    assert queue["workers"] == 2 and queue["min_workers"] == 0
    assert "worker-heavy" not in api(lines, af.id)["status_reason"]  # scaling is not a rollout
    finished = run_dag_wait(af.id, "queues_dag", run["dag_run_id"])
    assert finished["state"] == "success"
    for task_id, where in (("heavy_a", "worker-heavy"), ("heavy_b", "worker-heavy"), ("light", "worker-default")):
        assert xcom(af.id, 3, "queues_dag", run["dag_run_id"], task_id) == where
    wait_for(af.id, lambda d: component(d, "worker-heavy").get("state") == "stopped" and not service_containers(af.id, "worker-heavy"),
             timeout=300, what="no heavy worker once its backlog is done")
    assert next(q for q in api(lines, af.id)["worker_queues"] if q["name"] == "heavy")["workers"] == 0


def run_dag_wait(deployment_id: int, dag_id: str, run_id: str, timeout: float = 300) -> dict:
    """Wait for a run triggered earlier to finish, observing the deployment meanwhile (as `make
    run`'s watcher does: the autoscaler acts on each observation)."""
    deadline = time.monotonic() + timeout
    while (run := airflow_api(deployment_id, 3, "GET", f"/dags/{dag_id}/dagRuns/{run_id}"))["state"] not in ("success", "failed"):
        assert time.monotonic() < deadline, f"the DAG run is still {run['state']}"
        observe(deployment_id)
        time.sleep(3)
    return run


def test_a_task_over_its_queues_memory_is_reported_as_out_of_memory(lines):
    af = lines.af3
    run = run_dag_wait(af.id, "hog_dag", trigger(af.id, 3, "hog_dag")["dag_run_id"])
    assert run["state"] == "failed"  # the kernel killed it at the queue's 1024 MiB
    out = wait_for(af.id, lambda d: "ran out of memory" in component(d, "worker-heavy").get("reason", ""), timeout=120,
                   what="the worker reported out of memory")
    assert "at its 1024 MiB limit; give it more memory" in component(out, "worker-heavy")["reason"]
    assert out.status == Deployment.Status.UNHEALTHY and "worker-heavy: ran out of memory" in out.status_reason
    wait_for(af.id, healthy_on(af.digest, af.bundle), timeout=300, what="HEALTHY once the memory trouble is past")


@pytest.fixture(scope="module")
def asgi_portal(lines):
    """The portal's ASGI server (daphne, as `make run` starts it) on the package's database: its
    pages and websockets, while the agents keep reporting to the package's live server."""
    from django.db import connections

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{connections['default'].settings_dict['NAME']}"}
    server, url = start_daphne(env, subprocess.DEVNULL)
    lines.alice.set_password("a-long-password-1")
    lines.alice.save()
    yield url
    server.terminate()
    server.wait(timeout=20)


def test_a_components_log_line_reaches_the_api_the_cli_and_the_browser_live(lines, asgi_portal):
    af = lines.af3
    deadline = time.monotonic() + 60
    while not api(lines, af.id, "/logs?component=scheduler&search=scheduler")["lines"]:
        assert time.monotonic() < deadline, "no scheduler line reached the portal"
        time.sleep(2)
    shown = cli("deployment", "logs", "--deployment-id", str(af.id), "--component", "api-server", "--limit", "5",
                lines=lines, work=False)
    assert shown.returncode == 0 and "api-server" in shown.stdout and "monitor/health" in shown.stdout

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.goto(f"{asgi_portal}/login/")
        page.fill("#id_username", lines.alice.username)
        page.fill("#id_password", "a-long-password-1")
        page.click("button[type=submit]")
        page.wait_for_url(f"{asgi_portal}/")
        page.goto(f"{asgi_portal}/deployments/{af.id}/logs/?component=api-server")
        expect(page.locator("#logs-status")).to_have_text("live", timeout=15_000)
        first = int(page.locator("#component-log").get_attribute("data-last-id"))
        # The API server logs its agent's health check every few seconds: a new line arrives live.
        page.wait_for_function(f"() => window.airdockLogs.lastId > {first} && document.querySelector("
                               f"'#component-log .log-line:last-child').dataset.id > {first}", timeout=60_000)
        assert "api-server" in page.locator("#component-log .log-line").last.text_content()
        page.screenshot(path=str(ROOT / "test-artifacts" / "component-logs-live.png"))
        browser.close()


def test_a_hibernating_deployment_takes_a_deploy_and_wakes_up_on_it(lines):
    af = lines.af3
    post(lines, af.id, "hibernate")
    reconcile_deployment(af.id)
    wait_for(af.id, hibernated(af.id), timeout=240, what="no container left")
    (af.root / "dags" / "broken.py").unlink(missing_ok=True)  # the failed deploy's DAG of the scenarios
    (af.root / "dags" / "woken_dag.py").write_text(GOOD_DAG_3.replace("example_dag", "woken_dag"))
    made = deploy(Deployment.objects.get(pk=af.id), lines.alice, af.root, kind=Deploy.Kind.DAGS)
    reconcile_deployment(af.id)
    stored = Deployment.objects.get(pk=af.id)
    assert stored.status == Deployment.Status.HIBERNATING and stored.desired_dag_bundle_version == made.dag_bundle_version
    assert not service_containers(af.id)  # nothing started for the deploy

    assert post(lines, af.id, "wake-up")["status"] == "DEPLOYING"
    reconcile_deployment(af.id)
    woke = wait_for(af.id, healthy_on(af.digest, made.dag_bundle_version), timeout=480, what="HEALTHY after waking up")
    assert woke.desired_image_digest == af.digest  # the same image
    af.bundle = made.dag_bundle_version
    wait_for_dag(af.id, 3, "woken_dag")
    assert [r["kind"] for r in api(lines, af.id, "/rollouts")][:2] == ["wake_up", "hibernate"]
    assert json.dumps(api(lines, af.id, "/rollouts")[0]["state"]) == '"DONE"'
