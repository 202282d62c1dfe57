"""Every Astro Runtime version a project names, against the real engine: its own Airflow, its
providers, Astro's build behaviour (bash SHELL, PYENV, local versions), and the failure classes
public projects hit (small reproductions of each)."""
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest
from django.conf import settings

from deployments.models import Deploy, RuntimeImage
from deployments.selectors import deploy_log_text
from deployments.services import deploys
from deployments.services.runtimes import table
from deployments.services.runtimes.images import (
    ensure_runtime_image,
    runtime_images_prune,
)
from deployments.services.runtimes.resolve import local_image, resolve
from tests import factories
from tests.projects import GOOD_DAG_2, GOOD_DAG_3, make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db]


def run(workspace, user, project, **options) -> Deploy:
    deployment = factories.DeploymentFactory(workspace=workspace, dag_deploy_enabled=False)
    deploy = deploys.deploy_create(deployment=deployment, user=user, archive=io.BytesIO(pack(project)), **options)
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    return deploy


def image_ref(runtime: str) -> str:
    if "-" in runtime:
        return f"astrocrpublic.azurecr.io/runtime:{runtime}"
    return f"quay.io/astronomer/astro-runtime:{runtime}"


def project(tmp_path, runtime: str, **options):
    version = table.get(runtime) or resolve(image_ref(runtime)).version
    dag = GOOD_DAG_3 if version.airflow_major >= 3 else GOOD_DAG_2
    root = make_project(tmp_path / runtime, dags={"example_dag.py": dag}, tests={}, **options)
    (root / "Dockerfile").write_text(f"FROM {image_ref(runtime)}\n" + options.get("extra", {}).get("Dockerfile", ""))
    return root


def log_of(deploy) -> str:
    return deploy_log_text(deploy)


def in_image(deploy, command: str) -> str:
    return docker.from_env().containers.run(
        f"{deploy.image_repository}:{deploy.image_tag}", ["bash", "-c", command], remove=True, network_mode="none"
    ).decode()


@pytest.mark.parametrize("runtime", ["9.21.0", "10.9.0", "11.5.0", "12.12.0", "13.11.0", "3.0-18", "3.1-21"])
def test_a_project_of_each_line_builds_on_its_own_airflow(alice, workspace, tmp_path, runtime):
    deploy = run(workspace, alice, project(tmp_path, runtime))
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert deploy.runtime_version == runtime
    assert deploy.airflow_version == table.get(runtime).airflow  # what the parse found in the image
    assert deploy.parse_results["airflow_version"] == table.get(runtime).airflow
    assert "example_dag" in deploy.parse_results["dag_ids"]


def test_runtime_12_takes_ordinary_pins_bash_recipes_and_pyenv(alice, workspace, tmp_path):
    """Classes 1, 5, 7, 8: pins of Airflow's own dependencies, cosmos's `source` recipe, PYENV."""
    root = project(
        tmp_path, "12.12.0",
        requirements="tabulate==0.9.0\ntzdata==2025.2\nrequests==2.32.5\nzipp==3.23.0\nrich<13\nprotobuf==3.20.0\n",
        extra={"requirements-isolated.txt": "six==1.16.0\n"},
    )
    (root / "Dockerfile").write_text(
        "# syntax=quay.io/astronomer/airflow-extensions:v1\n"
        "FROM quay.io/astronomer/astro-runtime:12.12.0\n"
        "RUN python -m venv dbt_venv && source dbt_venv/bin/activate && pip install --quiet six==1.16.0 && deactivate\n"
        "PYENV 3.11 isolated requirements-isolated.txt\n"
    )
    (root / "dags" / "isolated.py").write_text(
        "import os\nfrom datetime import datetime\nfrom airflow.decorators import dag, task\n\n"
        "@dag(start_date=datetime(2025, 1, 1), schedule=None)\ndef isolated():\n"
        "    @task.external_python(python=os.environ['ASTRO_PYENV_isolated'])\n"
        "    def work():\n        import six\n        return six.__version__\n    work()\n\nisolated()\n"
    )
    deploy = run(workspace, alice, root)
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    moved = next(w for w in deploy.warnings if w.startswith("requirements.txt moved"))
    assert "tabulate 0.10.0 → 0.9.0" in moved and "protobuf" in moved and "rich" in moved
    assert "isolated" in deploy.parse_results["dag_ids"]
    out = in_image(deploy, "$ASTRO_PYENV_isolated -c 'import six; print(six.__version__)'; ls /usr/local/airflow/dbt_venv/bin/activate")
    assert "1.16.0" in out and "dbt_venv/bin/activate" in out


def test_runtime_3_0_runs_airflow_3_0_with_its_own_pins_built_on_first_use(alice, workspace, tmp_path):
    """Classes 2, 3, 6, 11: a 3.0-2 project (older than the table knows: the nearest 3.0 version,
    built on first use) with common-io 1.5.3, unpinned Airflow, http and flask-appbuilder, boto3."""
    nearest = table.get("3.0-17")
    for flavour in (False, True):
        docker.from_env().images.remove(local_image(nearest, base=flavour), force=True) if docker.from_env().images.list(local_image(nearest, base=flavour)) else None
    root = project(tmp_path, "3.0-2", requirements=(
        "apache-airflow-providers-common-io==1.5.3\napache-airflow\napache-airflow-providers-http\nflask-appbuilder\nboto3\n"
    ))
    deploy = run(workspace, alice, root)
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert deploy.runtime_version == "3.0-17" and deploy.airflow_version == "3.0.6"
    assert any("3.0-2 is not in Airdock's table" in w and "3.0-17" in w for w in deploy.warnings)
    assert "Building Astro Runtime 3.0-17 (Airflow 3.0.6), first use" in log_of(deploy)
    out = in_image(deploy, "pip list 2>/dev/null | grep -E '^(apache-airflow|apache-airflow-providers-common-io|boto3|python-dateutil) '")
    assert "apache-airflow                           3.0.6" in out and "1.5.3" in out and "boto3" in out


def test_runtime_11_keeps_the_http_operators_it_shipped(alice, workspace, tmp_path):
    """Class 4: SimpleHttpOperator, removed in http 5.x, is there on Runtime 11 (Airflow 2.9)."""
    root = project(tmp_path, "11.7.0")
    (root / "dags" / "http_dag.py").write_text(
        "from datetime import datetime\nfrom airflow import DAG\n"
        "from airflow.providers.http.operators.http import SimpleHttpOperator\n\n"
        "with DAG('http_dag', start_date=datetime(2025, 1, 1), schedule=None):\n"
        "    SimpleHttpOperator(task_id='get', endpoint='/')\n"
    )
    deploy = run(workspace, alice, root)
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert deploy.runtime_version == "11.5.0" and deploy.airflow_version.startswith("2.9.")
    assert "http_dag" in deploy.parse_results["dag_ids"]


def test_a_freeze_of_a_runtime_image_with_astronomer_local_versions_installs(alice, workspace, tmp_path):
    """Classes 5 and 9: `pip freeze` of a Runtime 3.1 image, with a `+astro.1` local version."""
    ensure_runtime_image(resolve(image_ref("3.1-21")), on_line=lambda line: None)
    freeze = docker.from_env().containers.run("airdock/runtime:3.1-21-base", ["uv", "pip", "freeze"], remove=True).decode()
    sdk = next(line for line in freeze.splitlines() if line.startswith("apache-airflow-task-sdk=="))
    freeze = freeze.replace(sdk, sdk + "+astro.1") + f"# {uuid.uuid4()}\n"  # a fresh layer, not one from cache
    deploy = run(workspace, alice, project(tmp_path, "3.1-21", requirements=freeze))
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert f"Reading {sdk}+astro.1 as the public release" in log_of(deploy)


def test_a_conflict_names_the_packages_that_decide_it(alice, workspace, tmp_path):
    """Class 10: the error quotes uv's conclusion, not the first lines of its report."""
    deploy = run(workspace, alice, project(tmp_path, "3.1-21", requirements="requests==2.31.0\nurllib3==1.20\n"))
    assert deploy.state == Deploy.State.FAILED
    assert "requirements.txt cannot be installed on this runtime" in deploy.error
    assert "urllib3" in deploy.error and "we can conclude" in deploy.error, deploy.error


def test_two_workers_asking_for_one_new_version_build_it_once(tmp_path):
    """Two worker processes (as two deploys on two RQ workers) want Runtime 3.2-2 at once."""
    version = table.get("3.2-2")
    client = docker.from_env()
    for flavour in (False, True):
        if client.images.list(local_image(version, base=flavour)):
            client.images.remove(local_image(version, base=flavour), force=True)
    env = {**os.environ, "AIRDOCK_VAR_DIR": str(tmp_path), "AIRDOCK_RUNTIME_CACHE_DIR": str(settings.AIRDOCK_RUNTIME_CACHE_DIR)}
    manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    workers = [subprocess.Popen([*manage, "airdock_runtime", "build", "3.2-2"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=900)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    built = [out for out in outputs if "Installing" in out and "pinned packages" in out]
    assert len(built) == 1, "exactly one of the two built the image"
    other = outputs[1 - outputs.index(built[0])]
    assert "Another deploy built Astro Runtime 3.2-2 (Airflow 3.2.0) meanwhile" in other
    assert client.images.get(local_image(version)).labels["io.airdock.runtime.version"] == "3.2-2"


def test_old_unused_runtime_images_are_pruned_keeping_the_newest_and_busy_ones(db, settings, workspace):
    settings.AIRDOCK_RUNTIME_IMAGE = "airdock-test/runtime"
    client = docker.from_env()
    base = client.images.get(settings.AIRDOCK_RUNTIME_BASE_IMAGE)
    from datetime import timedelta

    from django.utils import timezone
    now = timezone.now()
    for age, runtime in enumerate(["9.0.0", "9.1.0", "9.2.0", "9.21.0"]):
        for suffix in ("", "-base"):
            base.tag("airdock-test/runtime", tag=runtime + suffix)
        RuntimeImage.objects.create(runtime_version=runtime, airflow_version="2.7.0", image=f"airdock-test/runtime:{runtime}", image_id=base.id)
        RuntimeImage.objects.filter(runtime_version=runtime).update(last_used_at=now - timedelta(days=age))
    factories.DeployFactory(deployment=factories.DeploymentFactory(workspace=workspace), state=Deploy.State.BUILDING, runtime_version="9.2.0")
    removed = runtime_images_prune(keep=1)
    # 9.0.0 is the one used last; 9.2.0 a deploy in progress builds on; 9.21.0 the newest of its line.
    assert removed == ["9.1.0"]
    tags = {t for image in client.images.list("airdock-test/runtime") for t in image.tags if t.startswith("airdock-test/")}
    assert tags == {f"airdock-test/runtime:{v}{s}" for v in ("9.0.0", "9.2.0", "9.21.0") for s in ("", "-base")}
    for tag in tags:
        client.images.remove(tag)
