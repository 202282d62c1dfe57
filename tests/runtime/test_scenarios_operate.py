"""Operating the running deployments of test_scenarios.py (the package's `lines`), in order, as a
user would through the API, on the real swarm with real Airflow:

1. the Airflow 2 deployment hibernates: none of its containers is left, it shows HIBERNATING;
2. a second worker queue with its own memory and no worker when idle: its tasks run on its own
   workers, its backlog scales it up to two workers and back to none; a change of settings is a
   rollout that ends DONE; resources become Swarm limits and reservations;
3. `airdock deployment inspect` → edit → `update --file` round-trips onto the running deployment;
4. a task over its queue's memory is killed, and the queue's workers are reported as out of memory;
   a webhook hears, signed, that the deployment turned unhealthy and then that it is healthy again;
5. a component's log lines reach the API, `airdock deployment logs` and, live, the logs page in
   Chromium (the portal's ASGI server on the same database);
6. Airflow's own UI, over the portal's address, lists the deployment's DAGs for a signed-in member,
   sends a signed-out browser to the sign-in page and answers an outsider 404;
7. the Airflow 3 deployment hibernates, takes a DAG-only deploy while hibernating (the webhook hears
   it succeeded), and wakes up HEALTHY on the same image and the new DAG bundle."""
import hashlib
import hmac
import json
import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import django_rq
import docker
import pytest
import requests
import yaml
from django.conf import settings
from django.test import Client, override_settings
from playwright.sync_api import expect, sync_playwright
from rq import SimpleWorker

from deployments.models import Deploy, Deployment
from deployments.services import deployments as deployment_settings
from deployments.services import notifications
from runtime.jobs import reconcile_deployment
from runtime.observe import observe
from tests import factories
from tests.asgi import start_daphne
from tests.projects import GOOD_DAG_3
from tests.receiver import Receiver

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
    five and ten minutes); notifications may go to a receiver on this machine."""
    with override_settings(AIRDOCK_AUTOSCALE_COOLDOWN=30, AIRDOCK_RUNTIME_OOM_WINDOW=60, AIRDOCK_NOTIFY_ALLOW_LOOPBACK=True):
        yield


@pytest.fixture(scope="module")
def alerts(lines):
    """A webhook channel of the Airflow 3 deployment, and the local receiver it posts to."""
    receiver = Receiver()
    django_rq.get_queue("notifications").empty()
    channel = notifications.channel_create(deployment=Deployment.objects.get(pk=lines.af3.id), name="alerts",
                                           kind="webhook", url=receiver.url)
    yield SimpleNamespace(receiver=receiver, channel=channel)
    receiver.close()


def delivered(alerts, event: str) -> dict:
    """Work the notifications queue (as `make run`'s worker does); the event's delivery, its
    signature checked."""
    SimpleWorker([django_rq.get_queue("notifications")], connection=django_rq.get_connection("notifications")).work(burst=True)
    found = [m for m in alerts.receiver.received if m["headers"].get("X-Airdock-Event") == event]
    assert found, f"no {event} notification: {[m['headers'].get('X-Airdock-Event') for m in alerts.receiver.received]}"
    message = found[-1]
    fields = dict(part.split("=", 1) for part in message["headers"]["X-Airdock-Signature"].split(","))
    expected = hmac.new(alerts.channel.signing_secret.encode(), f"{fields['t']}.".encode() + message["body"], hashlib.sha256)
    assert hmac.compare_digest(expected.hexdigest(), fields["v1"]), "a bad signature"
    return json.loads(message["body"])


def post(lines, deployment_id: int, action: str) -> dict:
    answer = Client().post(f"/api/v1/deployments/{deployment_id}/{action}", HTTP_AUTHORIZATION=f"Bearer {lines.token}")
    assert answer.status_code == 200, answer.content
    return answer.json()


def component(deployment: Deployment, name: str) -> dict:
    return next((c for c in deployment.runtime_components if c["name"] == name and c["state"] != "draining"), {})


def hibernated(deployment_id: int):
    return lambda d: d.status == Deployment.Status.HIBERNATING and d.status_reason.startswith("Hibernating: nothing runs") \
        and not service_containers(deployment_id)


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


def test_a_deployment_file_round_trips_through_the_cli_onto_the_running_deployment(lines, tmp_path):
    af = lines.af3
    shown = cli("deployment", "inspect", "--deployment-id", str(af.id), lines=lines, work=False)
    assert shown.returncode == 0, shown.stderr
    document = yaml.safe_load(shown.stdout)
    assert all(v["value"] is None for v in document["deployment"]["environment_variables"] if v["is_secret"])
    next(q for q in document["deployment"]["worker_queues"] if q["name"] == "heavy")["max_workers"] = 3
    path = tmp_path / "af3.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    updated = cli("deployment", "update", "--deployment-id", str(af.id), "--file", str(path), lines=lines, work=False)
    assert updated.returncode == 0, updated.stderr
    reconcile_deployment(af.id)  # the job the update queued (this test is the portal's worker)
    wait_for(af.id, lambda d: api(lines, af.id, "/rollouts")[0]["state"] == "DONE" and healthy_on(af.digest, af.bundle)(d),
             timeout=300, what="the file's change rolled out")
    again = yaml.safe_load(cli("deployment", "inspect", "--deployment-id", str(af.id), lines=lines, work=False).stdout)
    for section in ("configuration", "worker_queues", "resources", "hibernation_schedules", "environment_variables"):
        assert again["deployment"][section] == document["deployment"][section], section


def test_a_task_over_its_queues_memory_is_reported_as_out_of_memory(lines, alerts):
    af = lines.af3
    run = run_dag_wait(af.id, "hog_dag", trigger(af.id, 3, "hog_dag")["dag_run_id"])
    assert run["state"] == "failed"  # the kernel killed it at the queue's 1024 MiB
    out = wait_for(af.id, lambda d: "ran out of memory" in component(d, "worker-heavy").get("reason", ""), timeout=120,
                   what="the worker reported out of memory")
    assert "at its 1024 MiB limit; give it more memory" in component(out, "worker-heavy")["reason"]
    assert out.status == Deployment.Status.UNHEALTHY and "worker-heavy: ran out of memory" in out.status_reason
    told = delivered(alerts, "deployment_unhealthy")  # the team hears of it, signed
    assert told["deployment"]["status"] == "UNHEALTHY" and "ran out of memory" in told["deployment"]["status_reason"]
    wait_for(af.id, healthy_on(af.digest, af.bundle), timeout=300, what="HEALTHY once the memory trouble is past")
    assert delivered(alerts, "deployment_healthy")["deployment"]["status"] == "HEALTHY"


@pytest.fixture(scope="module")
def asgi_portal(lines):
    """The portal's ASGI server (daphne, as `make run` starts it) on the package's database: its
    pages and websockets, while the agents keep reporting to the package's live server."""
    from django.db import connections

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{connections['default'].settings_dict['NAME']}",
           "AIRDOCK_RUNTIME_NAME_PREFIX": PREFIX}
    server, url = start_daphne(env, subprocess.DEVNULL, port=urlsplit(settings.AIRDOCK_PUBLIC_URL).port)
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
        page = signed_in(browser, asgi_portal, lines.alice.username)
        page.goto(f"{asgi_portal}/deployments/{af.id}/logs/?component=api-server")
        expect(page.locator("#logs-status")).to_have_text("live", timeout=15_000)
        first = int(page.locator("#component-log").get_attribute("data-last-id"))
        # The API server logs its agent's health check every few seconds: a new line arrives live.
        page.wait_for_function(f"() => window.airdockLogs.lastId > {first} && document.querySelector("
                               f"'#component-log .log-line:last-child').dataset.id > {first}", timeout=60_000)
        assert "api-server" in page.locator("#component-log .log-line").last.text_content()
        page.screenshot(path=str(ROOT / "test-artifacts" / "component-logs-live.png"))
        browser.close()


def signed_in(browser, url: str, username: str, password: str = "a-long-password-1"):
    page = browser.new_page()
    page.goto(f"{url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    return page


def test_the_airflow_ui_is_served_behind_the_portals_sign_in(lines, asgi_portal):
    af = lines.af3
    ui = f"{asgi_portal}/deployments/{af.id}/airflow/"
    anonymous = requests.get(ui, allow_redirects=False, timeout=30)
    assert anonymous.status_code == 302 and "/login/" in anonymous.headers["Location"]
    outsider = factories.UserFactory(username="mallory@example.com")
    outsider.set_password("a-long-password-1")
    outsider.save()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = signed_in(browser, asgi_portal, lines.alice.username)
        page.goto(ui)  # Airflow signs the member in (its simple auth manager) and shows its home page
        expect(page.get_by_role("heading", name="Task Instances")).to_be_visible(timeout=90_000)
        page.goto(f"{ui}dags")
        expect(page.get_by_text("queues_dag").first).to_be_visible(timeout=60_000)  # Airflow's own DAG list
        page.screenshot(path=str(ROOT / "test-artifacts" / "airflow-ui.png"))
        cookies = {c["name"] for c in page.context.cookies()}
        assert "sessionid" in cookies
        stranger = signed_in(browser, asgi_portal, outsider.username)
        assert stranger.goto(ui).status == 404
        browser.close()


def test_a_hibernating_deployment_takes_a_deploy_and_wakes_up_on_it(lines, alerts):
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
    assert delivered(alerts, "deploy_succeeded")["deploy"]["id"] == made.pk

    assert post(lines, af.id, "wake-up")["status"] == "DEPLOYING"
    reconcile_deployment(af.id)
    woke = wait_for(af.id, healthy_on(af.digest, made.dag_bundle_version), timeout=480, what="HEALTHY after waking up")
    assert woke.desired_image_digest == af.digest  # the same image
    af.bundle = made.dag_bundle_version
    wait_for_dag(af.id, 3, "woken_dag")
    assert [r["kind"] for r in api(lines, af.id, "/rollouts")][:2] == ["wake_up", "hibernate"]
    assert json.dumps(api(lines, af.id, "/rollouts")[0]["state"]) == '"DONE"'
