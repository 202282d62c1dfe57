"""Faults: the RQ worker running a deploy dies. A real worker process (`manage.py rqworker`, as
`make run` starts it) runs a real deploy whose DAG parse hangs; the test kills its work-horse, or
the whole worker, with SIGKILL. The reaper (as `make run`'s, on its own: no worker needs to be
alive) fails the deploy as "worker lost" within 90 s, removes its check container and temporary
folder, and what the deployment runs does not change."""
import io
import os
import signal
import tempfile
import time
from pathlib import Path

import docker
import pytest

from deployments.models import Deploy, Deployment
from deployments.services import deploys
from deployments.services.deploys import states
from tests.projects import make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
HANGING_DAG = "import time\n\nfrom airflow.sdk import dag  # a DAG file (Airflow parses only those)\n\ntime.sleep(3600)\n"
TIMINGS: dict[str, float] = {}  # printed at the end of the module, for the README's table


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.fixture
def worker(start_worker):
    return start_worker("deploys")


def running_check(deploy: Deploy, timeout: float = 600) -> None:
    """Wait until the deploy's DAG parse runs in its check container."""
    deadline = time.monotonic() + timeout
    engine = docker.from_env()
    while not engine.containers.list(filters={"label": f"io.airdock.deploy={deploy.pk}"}):
        deploy.refresh_from_db()
        assert deploy.is_active, f"the deploy ended before its parse: {deploy.state} {deploy.error}"
        assert time.monotonic() < deadline, f"no parse after {timeout} s: {deploy.state}"
        time.sleep(1)


def reaped(deploy: Deploy, since: float) -> float:
    """Run the reaper every 15 s (as `make run` does) until the deploy has failed; seconds taken."""
    while True:
        states.deploys_fail_lost()
        deploy.refresh_from_db()
        if not deploy.is_active:
            return time.monotonic() - since
        assert time.monotonic() - since < 120, "still active two minutes after its worker died"
        time.sleep(15)


@pytest.mark.parametrize("what", ["work-horse", "whole worker"])
def test_a_killed_worker_fails_its_deploy_as_lost_and_leaves_nothing(alice, deployment, worker, tmp_path, what):
    before = Deployment.objects.get(pk=deployment.pk)
    project = make_project(tmp_path / "p", dags={"slow_dag.py": HANGING_DAG})
    deploy = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(pack(project)))
    running_check(deploy)
    [horse] = children(worker.pid)  # RQ's work-horse runs the job (in a session of its own)
    os.kill(horse, signal.SIGKILL)
    if what == "whole worker":  # as its machine or cgroup going down: the worker and its work-horse
        os.killpg(worker.pid, signal.SIGKILL)
    killed = time.monotonic()
    TIMINGS[what] = taken = reaped(deploy, killed)
    assert taken <= 90
    assert deploy.state == Deploy.State.FAILED and "worker running this deploy was lost" in deploy.error
    assert "while parsing dags" in deploy.error
    assert not docker.from_env().containers.list(all=True, filters={"label": f"io.airdock.deploy={deploy.pk}"})
    assert not list(Path(tempfile.gettempdir()).glob(f"{states.TEMP_PREFIX}{deploy.pk}-*"))
    after = Deployment.objects.get(pk=deployment.pk)
    assert (after.desired_image_digest, after.desired_dag_bundle_version, after.current_deploy_id) == (
        before.desired_image_digest, before.desired_dag_bundle_version, before.current_deploy_id)
    print(f"\n{what} killed during the DAG parse: FAILED as lost after {taken:.0f} s")
