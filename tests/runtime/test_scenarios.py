"""Two deployments, one of each Airflow line, run side by side on the real swarm (real registry,
Redis, S3-compatible store and Airflow), and go through a deployment's life in order, each step
asserted through the API as a user would see it:

1. a full deploy reaches HEALTHY, every component reporting the deploy's digest and bundle;
2. a DAG run, triggered through Airflow's own API, succeeds on a Celery worker;
3. task code reaches none of Airdock's services, nor anything of the other deployment;
4. a DAG-only deploy reaches every component with no container restarted; the new DAG appears;
5. a killed scheduler comes back by itself (Airflow 3 from here on);
6. an image deploy rolls while a long task runs: the task finishes on its old, draining worker,
   new tasks go to the new one, and the old worker leaves;
7. a component rolled back by hand is drift (dashboard and status), repaired by the next reconcile;
8. a reconcile pass killed in the middle (the portal restarting) is finished by the next one;
9. a second Docker engine joins the swarm and the workers spread over both machines;
10. a secret environment variable reaches the tasks and appears nowhere else;
11. `airdock deploy --wait` returns once the deployment is HEALTHY on the new versions, and a
    failed deploy from the CLI changes nothing of what runs."""
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import django_rq
import docker
import pytest
from django.conf import settings
from django.test import Client

from deployments.models import ComponentLogLine, Deploy, Deployment
from deployments.selectors import deploy_log_text
from deployments.services import deployments as deployment_settings
from deployments.services import variables
from runtime import spec, swarm
from runtime.jobs import reconcile_deployment
from tests.projects import BROKEN_DAG
from tests.security.test_network import host_addresses

from . import dags
from .airflow import (
    LINES,
    airflow_api,
    deploy,
    run_dag,
    service_containers,
    task_instances,
    task_log,
    trigger,
    wait_for_dag,
    xcom,
)
from .checks import (
    DATA,
    api,
    cli,
    container_ip,
    dashboard_row,
    gateway_addresses,
    healthy_on,
    line,
    rolled_out,
    seconds,
    serving,
)
from .conftest import PREFIX, wait_for
from .node import NAME as NODE2
from .node import second_engine

pytestmark = [pytest.mark.services]
COMPONENTS = {
    3: {"api-server", "scheduler", "dag-processor", "triggerer", "worker-default", "db", "broker"},
    2: {"webserver", "scheduler", "triggerer", "worker-default", "db", "broker"},
}
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("major", [3, 2])
def test_a_full_deploy_reaches_healthy_with_every_component_on_its_versions(lines, major):
    af = line(lines, major)
    wait_for(af.id, healthy_on(af.first.image_digest, af.first.dag_bundle_version), timeout=480, what="HEALTHY")
    assert reconcile_deployment(af.id) == "in sync"  # a second pass changes nothing
    answer = api(lines, af.id)
    assert answer["status"] == "HEALTHY", answer["status_reason"]
    assert {c["name"] for c in answer["components"]} == COMPONENTS[major]
    for component in answer["components"]:
        assert component["state"] == "healthy", component
        assert component["nodes"], component  # the machine it runs on
        if component["name"] not in DATA:
            assert component["running_image_digest"] == af.first.image_digest
            assert component["running_dag_bundle_version"] == af.first.dag_bundle_version


@pytest.mark.parametrize("major", [3, 2])
def test_a_dag_run_triggered_through_airflows_api_succeeds_on_a_celery_worker(lines, major):
    af = line(lines, major)
    run = run_dag(af.id, major, "example_dag")
    assert run["state"] == "success"
    worker_ips = {container_ip(c) for c in service_containers(af.id, "worker-default")}
    assert {t["hostname"] for t in task_instances(af.id, major, "example_dag", run["dag_run_id"])} <= worker_ips


@pytest.mark.parametrize("major", [3, 2])
def test_task_code_reaches_nothing_of_airdock_nor_of_the_other_deployment(lines, major):
    af, other = line(lines, major), line(lines, 5 - major)
    api_server = LINES[other.major][2]
    others = [[address, port] for address in gateway_addresses(other.id, ("db", "broker", api_server))
              for port in (5432, 6379, 8080)]  # its containers on this machine's gateway bridge
    others += [[f"{spec.prefix(other.id)}-{name}", port] for name in ("db", "broker", api_server)
               for port in (5432, 6379, 8080)]  # its services by name
    others += [[api_server, 8080]]  # its API server's alias (the line's own is another name)
    own = [["db", 5432], ["broker", 6379], [LINES[major][2], 8080]]
    conf = {"hosts": host_addresses(), "others": others, "own": own}
    run = run_dag(af.id, major, "airdock_probe", conf=conf)
    assert run["state"] == "success"
    found = xcom(af.id, major, "airdock_probe", run["dag_run_id"], "probe")
    assert all(answer.startswith("open") for answer in found["own"].values()), found["own"]  # the probe works
    assert found["reached"]["docker.sock"] is False
    reached = {k: v for k, v in {**found["reached"], **found["others"]}.items() if str(v).startswith("open")}
    assert not reached, f"a task reached: {reached}"
    assert len(found["others"]) >= 6


@pytest.mark.parametrize("major", [3, 2])
def test_a_dag_only_deploy_reaches_every_component_without_a_restart(lines, major):
    af = line(lines, major)
    before = {c.id for c in service_containers(af.id)}
    (af.root / "dags" / "second_dag.py").write_text(dags.example(major).replace("example_dag", "second_dag"))
    second = deploy(Deployment.objects.get(pk=af.id), lines.alice, af.root, kind=Deploy.Kind.DAGS)
    assert second.dag_bundle_version != af.bundle
    wait_for(af.id, healthy_on(af.digest, second.dag_bundle_version), timeout=120, what="the new bundle everywhere")
    wait_for_dag(af.id, major, "second_dag")
    # The runtime watcher reconciles after every activation: the services' specs need nothing new.
    assert reconcile_deployment(af.id) == "in sync"
    assert {c.id for c in service_containers(af.id)} == before  # nothing restarted
    answer = api(lines, af.id)
    assert {c["running_dag_bundle_version"] for c in serving(answer)} == {second.dag_bundle_version}
    af.bundle = second.dag_bundle_version


@pytest.mark.parametrize("major", [3, 2])
def test_a_killed_scheduler_comes_back_by_itself(lines, major):
    af = line(lines, major)
    scheduler = service_containers(af.id, "scheduler")[0]
    scheduler.kill()
    wait_for(af.id, lambda d: d.status != Deployment.Status.HEALTHY, timeout=60, what="the loss noticed")
    wait_for(af.id, lambda d: d.status == Deployment.Status.HEALTHY, timeout=240, what="HEALTHY after the kill")
    assert service_containers(af.id, "scheduler")[0].id != scheduler.id


@pytest.mark.parametrize("major", [3, 2])
def test_an_image_deploy_rolls_while_a_long_task_finishes_on_its_old_worker(lines, major):
    af = line(lines, major)
    old_worker = service_containers(af.id, "worker-default")[0]
    old_ip = container_ip(old_worker)
    (af.root / "include" / "version.txt").write_text("2\n")  # a new image, the same DAGs
    second = deploy(Deployment.objects.get(pk=af.id), lines.alice, af.root)
    assert second.image_digest != af.digest
    run = trigger(af.id, major, "long_dag")
    capped = trigger(af.id, major, "capped_dag")  # its execution_timeout (45 s) still applies on a draining worker
    deadline = time.monotonic() + 120
    while task(af.id, major, run["dag_run_id"], "slow")["state"] != "running":
        assert time.monotonic() < deadline, "the long task never started"
        time.sleep(2)
    reconcile_deployment(af.id)

    def worker_draining(d):
        return next((c for c in d.runtime_components if c["state"] == "draining" and c["name"] == "worker-default"), None)

    entry = worker_draining(wait_for(af.id, worker_draining, timeout=120, what="the old worker draining"))
    assert entry["running_image_digest"] == af.digest
    assert entry["grace_ends_at"]
    assert any(c["state"] == "draining" for c in api(lines, af.id)["components"])
    deadline = time.monotonic() + 240
    while (state := airflow_api(af.id, major, "GET", f"/dags/long_dag/dagRuns/{run['dag_run_id']}")["state"]) not in ("success", "failed"):
        assert time.monotonic() < deadline, f"the long run is still {state}"
        time.sleep(3)
    tis = task_instances(af.id, major, "long_dag", run["dag_run_id"])
    assert state == "success", [(t["task_id"], t["state"], t["hostname"], t.get("try_number")) for t in tis]
    assert task(af.id, major, run["dag_run_id"], "slow")["hostname"] == old_ip  # finished where it began
    assert task(af.id, major, run["dag_run_id"], "after")["hostname"] != old_ip  # downstream: a new worker
    timed_out = task_instances(af.id, major, "capped_dag", capped["dag_run_id"])[0]
    assert (timed_out["state"], timed_out["hostname"]) == ("failed", old_ip), timed_out
    assert seconds(timed_out["end_date"]) - seconds(timed_out["start_date"]) < 120
    assert run_dag(af.id, major, "example_dag")["state"] == "success"
    wait_for(af.id, lambda d: healthy_on(second.image_digest)(d) and not any(
        c["state"] == "draining" for c in d.runtime_components), timeout=120, what="the old worker gone")
    assert old_worker.id not in {c.id for c in service_containers(af.id)}
    # The new image's migrations ran once, to completion, before its scheduler was started.
    engine = docker.from_env().api
    migrations = engine.tasks(filters={"service": f"{spec.prefix(af.id)}-migrate"})
    assert [t["Status"]["State"] for t in migrations] == ["complete"]
    assert migrations[0]["Spec"]["ContainerSpec"]["Image"].endswith(second.image_digest)
    scheduler = [t for t in engine.tasks(filters={"service": f"{spec.prefix(af.id)}-scheduler", "desired-state": "running"})
                 if t["Spec"]["ContainerSpec"]["Image"].endswith(second.image_digest)]
    assert scheduler and seconds(migrations[0]["Status"]["Timestamp"]) <= seconds(scheduler[0]["CreatedAt"])
    labels = [f"io.airdock.instance={PREFIX}", f"io.airdock.deployment={af.id}", "io.airdock.component=migrate"]
    finished = engine.containers(all=True, filters={"label": labels})
    assert len(finished) == 1  # the earlier image's job left no container behind
    af.digest, af.bundle = second.image_digest, second.dag_bundle_version


def task(deployment_id: int, major: int, run_id: str, task_id: str) -> dict:
    return airflow_api(deployment_id, major, "GET", f"/dags/long_dag/dagRuns/{run_id}/taskInstances/{task_id}")


@pytest.mark.parametrize("major", [3, 2])
def test_a_component_rolled_back_by_hand_is_drift_and_the_next_reconcile_repairs_it(lines, major):
    af = line(lines, major)
    old_image = f"{af.first.image_repository}@{af.first.image_digest}"
    subprocess.run(["docker", "service", "update", "--detach", "--with-registry-auth", "--image", old_image,
                    f"{spec.prefix(af.id)}-scheduler"], check=True, capture_output=True)
    drifted = wait_for(af.id, lambda d: d.status == Deployment.Status.UNHEALTHY, timeout=60, what="UNHEALTHY")
    assert "scheduler: its image was changed" in drifted.status_reason
    assert api(lines, af.id)["status"] == "UNHEALTHY"
    browser = Client()
    browser.force_login(lines.alice)
    wait_for(af.id, lambda d: any(c["name"] == "scheduler" and c["state"] != "draining" and c["running_image_digest"]
                                  == af.first.image_digest for c in d.runtime_components), timeout=120, what="the old image running")
    row = dashboard_row(browser, af.id)
    assert "≠ 1 behind" in row and "scheduler" in row and "Unhealthy" in row
    reconcile_deployment(af.id)
    wait_for(af.id, healthy_on(af.digest), timeout=240, what="HEALTHY after the repair")
    assert "in sync ✓" in dashboard_row(browser, af.id)


def test_a_reconcile_pass_killed_in_the_middle_is_finished_by_the_next(lines):
    """The portal (its worker) dies while a pass waits for the new image's migrations: nothing runs
    the new image yet, the dead pass's lock lapses within a minute, and the next pass finishes."""
    af = lines.af3
    (af.root / "include" / "version.txt").write_text("killed pass\n")
    made = deploy(Deployment.objects.get(pk=af.id), lines.alice, af.root)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
           "AIRDOCK_RUNTIME_NAME_PREFIX": PREFIX, "AIRDOCK_RUNTIME_PORTAL_URL": lines.portal.url}
    passing = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "shell", "-c",
                                f"from runtime.jobs import reconcile_deployment; reconcile_deployment({af.id})"],
                               env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    migrate, image = f"{spec.prefix(af.id)}-migrate", f"{made.image_repository}@{made.image_digest}"
    deadline = time.monotonic() + 120
    while not ((job := swarm.service_get(migrate)) and job.attrs["Spec"]["Labels"].get("io.airdock.image") == image):
        assert passing.poll() is None and time.monotonic() < deadline, "the pass never reached the migrations"
        time.sleep(0.5)
    passing.kill()
    passing.wait()
    for name in ("scheduler", "api-server", "worker-default"):  # nothing runs the new image before its migrations
        assert made.image_digest not in swarm.service_get(f"{spec.prefix(af.id)}-{name}").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert reconcile_deployment(af.id) == "another pass is running"  # the dead pass's lock, for now
    deadline = time.monotonic() + 90
    while (done := reconcile_deployment(af.id)) == "another pass is running":
        assert time.monotonic() < deadline, "the dead pass's lock never lapsed"
        time.sleep(5)
    assert done.startswith("changed"), done
    wait_for(af.id, healthy_on(made.image_digest, made.dag_bundle_version), timeout=300, what="HEALTHY on the new image")
    assert reconcile_deployment(af.id) == "in sync"
    af.digest, af.bundle = made.image_digest, made.dag_bundle_version


def test_workers_spread_over_a_second_engine_that_joins_the_swarm(lines):
    af = lines.af3
    deployment = Deployment.objects.get(pk=af.id)
    with second_engine() as node2:
        # Only the number of workers changes: Swarm places the new one on the machine with fewer of them.
        deployment_settings.deployment_update(deployment=deployment, worker_queues=[{"name": "default", "workers": 2, "concurrency": 5}])
        reconcile_deployment(af.id)

        def spread(d):
            worker = next((c for c in d.runtime_components if c["name"] == "worker-default" and c["state"] != "draining"), {})
            return healthy_on(af.digest, af.bundle)(d) and len(worker.get("nodes", [])) == 2

        wait_for(af.id, spread, timeout=420, what="two healthy workers on two machines")
        worker = next(c for c in api(lines, af.id)["components"] if c["name"] == "worker-default")
        assert worker["running"] == 2 and NODE2 in worker["nodes"]
        remote = node2.containers.list(filters={"label": "io.airdock.component=worker-default"})
        assert len(remote) == 1
        run = run_dag(af.id, 3, "wide_dag")  # 8 tasks of 20 s, at most 5 at a time per worker: both take some
        tis = task_instances(af.id, 3, "wide_dag", run["dag_run_id"])
        assert run["state"] == "success", [(t["map_index"], t["state"], t["hostname"], task_log(
            af.id, 3, "wide_dag", run["dag_run_id"], t) if t["state"] != "success" else "") for t in tis]
        hosts = {t["hostname"] for t in tis}
        assert container_ip(remote[0]) in hosts and len(hosts) == 2, hosts
        deployment_settings.deployment_update(deployment=deployment, worker_queues=[{"name": "default", "workers": 1, "concurrency": 5}])
        reconcile_deployment(af.id)
        wait_for(af.id, lambda d: healthy_on(af.digest)(d) and all(
            c["running"] == 1 for c in d.runtime_components if c["name"] == "worker-default"), timeout=240, what="one worker again")
    wait_for(af.id, healthy_on(af.digest, af.bundle), timeout=240, what="HEALTHY on one machine")


def test_a_secret_variable_reaches_every_task_and_appears_nowhere_else(lines):
    af = lines.af3
    deployment = Deployment.objects.get(pk=af.id)
    password = secrets.token_urlsafe(24)
    variables.variable_set(deployment=deployment, key="WAREHOUSE_PASSWORD", value=password, is_secret=True)
    variables.variable_set(deployment=deployment, key="WAREHOUSE_HOST", value="warehouse.internal", is_secret=False)
    assert reconcile_deployment(af.id).startswith("changed")  # a settings change rolls out like a deploy
    wait_for(af.id, lambda d: rolled_out(af.id) and healthy_on(af.digest, af.bundle)(d) and not any(
        c["state"] == "draining" for c in d.runtime_components), timeout=300, what="the variables rolled out")
    run = run_dag(af.id, 3, "env_dag", conf={"sha256": hashlib.sha256(password.encode()).hexdigest()})
    assert run["state"] == "success"  # the task asserted the secret's value itself
    assert xcom(af.id, 3, "env_dag", run["dag_run_id"], "check") == "warehouse.internal"
    [checked] = task_instances(af.id, 3, "env_dag", run["dag_run_id"])
    log = task_log(af.id, 3, "env_dag", run["dag_run_id"], checked, tail=None)
    assert "connecting with password ***" in log and password not in log  # masked where the task printed it

    services = swarm.services_list({"io.airdock.instance": PREFIX, "io.airdock.deployment": str(af.id)})
    inspected = json.dumps([s.attrs for s in services])
    assert "WAREHOUSE_HOST=warehouse.internal" in inspected and password not in inspected
    # Every container's own log (Swarm's service log stream can wait for a removed job container).
    logs = [c.logs(tail=500).decode("utf-8", "replace") for c in docker.from_env().containers.list(
        all=True, filters={"label": [f"io.airdock.instance={PREFIX}", f"io.airdock.deployment={af.id}"]})]
    assert logs and password not in "".join(logs)
    answers = [Client().get(path, HTTP_AUTHORIZATION=f"Bearer {lines.token}").content.decode()
               for path in (f"/api/v1/deployments/{af.id}", f"/api/v1/deployments/{af.id}/variables",
                            f"/api/v1/deployments/{af.id}/logs?limit=5000")]  # the components' logs too
    assert "WAREHOUSE_PASSWORD" in answers[1] and not any(password in answer for answer in answers)
    browser = Client()
    browser.force_login(lines.alice)
    page = browser.get(f"/deployments/{af.id}/").content.decode()
    assert "WAREHOUSE_PASSWORD" in page and password not in page
    assert password not in browser.get(f"/deployments/{af.id}/logs/").content.decode()
    assert not ComponentLogLine.objects.filter(text__contains=password).exists()  # masked before it left a container
    listed = cli("deployment", "variable", "list", "--deployment-id", str(af.id), lines=lines, work=False)
    assert listed.returncode == 0 and "WAREHOUSE_PASSWORD" in listed.stdout and "******" in listed.stdout
    assert password not in listed.stdout + listed.stderr


def test_the_cli_waits_until_healthy_on_the_new_versions_and_a_failed_deploy_changes_nothing(lines):
    af = lines.af3
    for queue in ("deploys", "default"):
        django_rq.get_queue(queue).empty()
    (af.root / "include" / "version.txt").write_text("3\n")
    (af.root / ".dockerignore").write_text((af.root / ".dockerignore").read_text() + "secret-notes.txt\n")
    (af.root / "secret-notes.txt").write_text("never upload me")
    ok = cli("deploy", str(af.root), "--deployment-id", str(af.id), "--wait", "--description", "from CI", lines=lines)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "build triggers" in ok.stdout and "succeeded" in ok.stdout
    assert "Deployment af3 is HEALTHY on deploy" in ok.stdout  # --wait: until it really runs
    made = Deploy.objects.filter(deployment_id=af.id).latest("pk")
    assert made.state == Deploy.State.SUCCEEDED and made.description == "from CI"
    assert made.image_digest != af.digest
    assert "secret-notes.txt" not in deploy_log_text(made)
    answer = api(lines, af.id)
    assert answer["status"] == "HEALTHY"
    assert {c["running_image_digest"] for c in serving(answer)} == {made.image_digest}
    af.digest, af.bundle = made.image_digest, made.dag_bundle_version

    (af.root / "dags" / "broken.py").write_text(BROKEN_DAG)
    bad = cli("deploy", str(af.root), "--deployment-id", str(af.id), "--wait", lines=lines)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "failed" in bad.stderr and "dags/broken.py line 4" in bad.stderr
    # What runs is what ran before the failed deploy (its status may flicker while the machine is busy
    # building: Airflow's own heartbeats come late, so wait for it to settle).
    assert Deployment.objects.get(pk=af.id).current_deploy_id == made.pk
    wait_for(af.id, lambda d: d.status == Deployment.Status.HEALTHY, timeout=180, what="HEALTHY after the failed deploy")
    after = api(lines, af.id)
    assert {(c["running_image_digest"], c["running_dag_bundle_version"]) for c in serving(after)} == {
        (made.image_digest, made.dag_bundle_version)}
    (af.root / "dags" / "broken.py").unlink()
