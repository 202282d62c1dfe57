"""Operating one Airflow 3 deployment on the real swarm, in the order a user meets these events:
a killed scheduler comes back by itself; an image deploy rolls while a long task runs (it finishes
on its old worker, which drains and leaves; new tasks, downstream ones included, go to the new
worker); a component changed by hand is reported as drift (UNHEALTHY) and the next reconcile puts
it back."""
import subprocess
import time

import pytest

from deployments.models import Deployment
from runtime.jobs import reconcile_deployment
from tests import factories
from tests.projects import GOOD_DAG_3, make_project

from .airflow import airflow_api, deploy, run_dag, service_containers
from .conftest import wait_for

pytestmark = [pytest.mark.services]
LONG_DAG = '''\
import time
from datetime import datetime

from airflow.sdk import dag, task


@dag(start_date=datetime(2025, 1, 1), schedule=None, catchup=False)
def long_dag():
    @task
    def slow():
        time.sleep(SECONDS)
        return "slept"

    @task
    def after(value):
        return value

    after(slow())


long_dag()
'''


def healthy_on(digest: str):
    return lambda d: d.status == Deployment.Status.HEALTHY and all(
        c["running_image_digest"] == digest for c in d.runtime_components if c["name"] not in ("db", "broker"))


def task_host(deployment_id: int, run_id: str, task_id: str) -> dict:
    return airflow_api(deployment_id, 3, "GET", f"/dags/long_dag/dagRuns/{run_id}/taskInstances/{task_id}")


def container_ip(container) -> str:
    out = container.exec_run(["python", "-c", "import socket; print(socket.gethostbyname(socket.getfqdn()))"])
    return out.output.decode().strip()


def test_a_deployment_heals_rolls_gracefully_and_repairs_drift(agent_portal, torn_down, alice, workspace, tmp_path):
    deployment = factories.DeploymentFactory(workspace=workspace, name="ops", dag_deploy_enabled=True)
    torn_down.append(deployment.pk)
    root = make_project(tmp_path / "p", dags={"example_dag.py": GOOD_DAG_3, "long_dag.py": LONG_DAG.replace("SECONDS", "100")})
    first = deploy(deployment, alice, root)
    reconcile_deployment(deployment.pk)
    wait_for(deployment.pk, healthy_on(first.image_digest), timeout=420, what="HEALTHY")

    # A killed scheduler: Swarm starts another, the deployment is HEALTHY again.
    scheduler = service_containers(deployment.pk, "scheduler")[0]
    scheduler.kill()
    wait_for(deployment.pk, lambda d: d.status != Deployment.Status.HEALTHY, timeout=60, what="the loss noticed")
    wait_for(deployment.pk, lambda d: d.status == Deployment.Status.HEALTHY, timeout=240, what="HEALTHY after the kill")
    assert service_containers(deployment.pk, "scheduler")[0].id != scheduler.id

    # A long task runs while an image deploy rolls out.
    old_worker = service_containers(deployment.pk, "worker-default")[0]
    old_ip = container_ip(old_worker)
    (root / "include" / "version.txt").write_text("2\n")  # a new image, the same DAGs
    second = deploy(deployment, alice, root)
    assert second.image_digest != first.image_digest
    airflow_api(deployment.pk, 3, "PATCH", "/dags/long_dag", {"is_paused": False})
    run = airflow_api(deployment.pk, 3, "POST", "/dags/long_dag/dagRuns", {"logical_date": None})
    deadline = time.monotonic() + 120
    while task_host(deployment.pk, run["dag_run_id"], "slow")["state"] != "running":
        assert time.monotonic() < deadline, "the long task never started"
        time.sleep(2)
    reconcile_deployment(deployment.pk)
    def worker_draining(d):
        return next((c for c in d.runtime_components if c["state"] == "draining" and c["name"] == "worker-default"), None)

    entry = worker_draining(wait_for(deployment.pk, worker_draining, timeout=120, what="the old worker draining"))
    assert entry["running_image_digest"] == first.image_digest
    assert entry["grace_ends_at"]
    deadline = time.monotonic() + 240
    while (state := airflow_api(deployment.pk, 3, "GET", f"/dags/long_dag/dagRuns/{run['dag_run_id']}")["state"]) not in ("success", "failed"):
        assert time.monotonic() < deadline, f"the long run is still {state}"
        time.sleep(3)
    tis = airflow_api(deployment.pk, 3, "GET", f"/dags/long_dag/dagRuns/{run['dag_run_id']}/taskInstances")
    assert state == "success", [(t["task_id"], t["state"], t["hostname"], t.get("try_number")) for t in tis["task_instances"]]
    assert task_host(deployment.pk, run["dag_run_id"], "slow")["hostname"] == old_ip  # finished where it began
    assert task_host(deployment.pk, run["dag_run_id"], "after")["hostname"] != old_ip  # downstream: a new worker
    assert run_dag(deployment.pk, 3, "example_dag")["state"] == "success"
    wait_for(deployment.pk, lambda d: healthy_on(second.image_digest)(d) and not any(
        c["state"] == "draining" for c in d.runtime_components), timeout=120, what="the old worker gone")
    assert old_worker.id not in {c.id for c in service_containers(deployment.pk)}

    # Drift: a component rolled back by hand is reported, and the next reconcile repairs it.
    old_image = f"{first.image_repository}@{first.image_digest}"
    subprocess.run(["docker", "service", "update", "--detach", "--with-registry-auth", "--image", old_image,
                    f"airdocktest-d{deployment.pk}-scheduler"], check=True, capture_output=True)
    drifted = wait_for(deployment.pk, lambda d: d.status == Deployment.Status.UNHEALTHY, timeout=60, what="UNHEALTHY")
    assert "scheduler: its image was changed" in drifted.status_reason
    reconcile_deployment(deployment.pk)
    wait_for(deployment.pk, healthy_on(second.image_digest), timeout=240, what="HEALTHY after the repair")
