"""Faults: tenant code over Airdock's limits. A build step over its memory or time limit, and a DAG
that hangs at import, fail the deploy naming the limit (and the setting that sets it); nothing is
activated, and a build stopped for time leaves no container running."""
import io
import time

import docker
import pytest

from deployments.models import Deploy, Deployment
from deployments.services import deploys
from tests.projects import make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db]
HANGING_DAG = "import time\n\nfrom airflow.sdk import dag  # a DAG file (Airflow parses only those)\n\ntime.sleep(3600)\n"
HUNGRY = 'RUN python -c "b = bytearray(1024 * 2**20); [b.__setitem__(i, 1) for i in range(0, len(b), 4096)]"\n'


def run(deployment, alice, root) -> Deploy:
    made = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(pack(root)))
    deploys.deploy_execute(deploy_id=made.pk)
    made.refresh_from_db()
    return made


def test_a_dag_that_hangs_at_import_fails_the_deploy_naming_the_time_limit(alice, deployment, tmp_path, settings):
    settings.AIRDOCK_CHECK_TIMEOUT = 20
    made = run(deployment, alice, make_project(tmp_path / "p", dags={"stuck.py": HANGING_DAG}))
    assert made.state == Deploy.State.FAILED
    assert "The DAG parse took longer than 20 s and was stopped (AIRDOCK_CHECK_TIMEOUT)" in made.error
    assert Deployment.objects.get(pk=deployment.pk).current_deploy_id is None


def test_a_build_over_its_memory_limit_fails_naming_the_limit(alice, deployment, tmp_path, settings):
    settings.AIRDOCK_BUILD_MEMORY = 256 * 2**20
    root = make_project(tmp_path / "p")
    (root / "Dockerfile").write_text((root / "Dockerfile").read_text() + HUNGRY)
    made = run(deployment, alice, root)
    assert made.state == Deploy.State.FAILED
    assert "killed, most likely for memory: a build may use 256 MiB (AIRDOCK_BUILD_MEMORY)" in made.error
    assert Deployment.objects.get(pk=deployment.pk).current_deploy_id is None


def test_a_build_over_its_time_limit_fails_naming_the_limit_and_is_stopped(alice, deployment, tmp_path, settings):
    settings.AIRDOCK_BUILD_TIMEOUT = 20
    root = make_project(tmp_path / "p")
    (root / "Dockerfile").write_text((root / "Dockerfile").read_text() + "RUN sleep 3601\n")
    made = run(deployment, alice, root)
    assert made.state == Deploy.State.FAILED
    assert "The image build took longer than 20 s (AIRDOCK_BUILD_TIMEOUT) and was stopped." in made.error
    assert made.steps.get(name=Deploy.State.BUILDING).state == "FAILED"
    assert Deployment.objects.get(pk=deployment.pk).current_deploy_id is None
    engine = docker.from_env()
    for _ in range(30):  # the engine cancels the build once its client is gone
        if not [c for c in engine.containers.list() if "sleep 3601" in " ".join(c.attrs["Config"].get("Cmd") or [])]:
            break
        time.sleep(1)
    else:
        raise AssertionError("the build's container still runs `sleep 3601`")
