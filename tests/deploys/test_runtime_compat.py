"""Real Astro projects (laid out as `astro dev init` lays them out, Dockerfile with only a FROM
line) build, parse and test here as on Astro, for both Runtime lines."""
import io
import socket

import docker
import pytest

from deployments.models import Deploy, DeployStep
from deployments.selectors import deploy_log_text
from deployments.services import deploys
from tests import factories
from tests.projects import (
    FAILING_TEST,
    GOOD_DAG_2,
    GOOD_DAG_3,
    RUNTIME_IMAGES,
    RUNTIME_VERSIONS,
    make_project,
    pack,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db]

MODULE_LEVEL_LOOKUPS = {
    "3.1": "from airflow.sdk import Variable\nfrom airflow.sdk.bases.hook import BaseHook\n",
    "2.10": "from airflow.models import Variable\nfrom airflow.hooks.base import BaseHook\n",
}
LOOKUP_DAG = '''\
import os
from datetime import datetime

{imports}
from {dag_module} import dag, task

BUCKET = Variable.get("bucket_name")  # not set anywhere at parse time
CONN = BaseHook.get_connection("warehouse")  # nor is this Connection
TOKEN = os.environ["API_TOKEN"]  # nor this environment variable


@dag(start_date=datetime(2025, 1, 1), schedule=None, catchup=False)
def lookups():
    @task
    def show():
        print(BUCKET, CONN.host, TOKEN)

    show()


lookups()
'''
AIRFLOW3_ONLY_DAG = '''\
from datetime import datetime

from airflow.sdk import asset, dag  # line 3: Airflow 3 only


@asset(schedule=None)
def daily_report():
    return "ok"
'''


def sample(tmp_path, line):
    dag_module = "airflow.sdk" if line == "3.1" else "airflow.decorators"
    return make_project(
        tmp_path / f"project-{line}", line=line,
        packages="jq\n", requirements="emoji==2.16.0\n",
        dags={
            "example_dag.py": GOOD_DAG_3 if line == "3.1" else GOOD_DAG_2,
            "lookups.py": LOOKUP_DAG.format(imports=MODULE_LEVEL_LOOKUPS[line], dag_module=dag_module),
        },
    )


def run(deployment, user, project, **options) -> Deploy:
    deploy = deploys.deploy_create(deployment=deployment, user=user, archive=io.BytesIO(pack(project)), **options)
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    return deploy


def in_image(deploy, *command) -> str:
    return docker.from_env().containers.run(
        f"{deploy.image_repository}:{deploy.image_tag}", list(command), remove=True, network_mode="none"
    ).decode()


@pytest.mark.parametrize("line, airflow_major", [("3.1", "3."), ("2.10", "2.")])
def test_it_builds_and_deploys_an_unmodified_astro_project(alice, workspace, tmp_path, line, airflow_major):
    deployment = factories.DeploymentFactory(workspace=workspace, dag_deploy_enabled=False)
    deploy = run(deployment, alice, sample(tmp_path, line))
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert deploy.airflow_version.startswith(airflow_major)
    assert deploy.runtime_image_used == f"airdock/runtime:{RUNTIME_VERSIONS[line]}"
    parsed = {f["file"]: f for f in deploy.parse_results["files"]}
    assert parsed["dags/example_dag.py"]["dag_ids"] == ["example_dag"]  # imports include/helpers.py
    assert parsed["dags/lookups.py"]["dag_ids"] == ["lookups"] and not parsed["dags/lookups.py"]["error"]
    listing = in_image(deploy, "sh", "-c", "pwd; id -un; echo $AIRFLOW_HOME; ls -A; command -v jq; python -c 'import emoji, include.helpers; print(emoji.__version__)'")
    assert listing.splitlines()[:3] == ["/usr/local/airflow", "astro", "/usr/local/airflow"]
    assert "/usr/bin/jq" in listing and "2.16.0" in listing
    assert "dags" in listing.split() and "include" in listing.split()
    assert ".env" not in listing.split() and "airflow_settings.yaml" not in listing.split()


def test_it_fails_an_airflow_3_import_on_runtime_12_and_accepts_it_on_runtime_3(alice, workspace, tmp_path):
    results = {}
    for line in ("2.10", "3.1"):
        deployment = factories.DeploymentFactory(workspace=workspace)
        project = make_project(tmp_path / line, line=line, dags={"report.py": AIRFLOW3_ONLY_DAG})
        results[line] = run(deployment, alice, project)
    old, new = results["2.10"], results["3.1"]
    assert old.state == Deploy.State.FAILED
    assert "dags/report.py line 3" in old.error and "airflow.sdk" in old.error
    assert new.state == Deploy.State.SUCCEEDED, new.error
    assert "daily_report" in new.parse_results["dag_ids"]


def test_it_gates_on_project_tests_only_when_asked_and_force_records_warnings(alice, workspace, tmp_path):
    deployment = factories.DeploymentFactory(workspace=workspace)
    project = make_project(tmp_path / "p", line="2.10", tests={"test_fail.py": FAILING_TEST})
    assert run(deployment, alice, project).state == Deploy.State.SUCCEEDED
    failed = run(deployment, alice, project, run_pytest=True)
    assert failed.state == Deploy.State.FAILED and "test_it_fails_on_purpose" in failed.error
    (project / "dags" / "broken.py").write_text("import not_installed_anywhere\nfrom airflow import DAG\n")
    forced = run(deployment, alice, project, run_pytest=True, force=True)
    assert forced.state == Deploy.State.SUCCEEDED
    states = {s.name: s.state for s in forced.steps.all()}
    assert states[Deploy.State.PARSING] == states[Deploy.State.TESTING] == DeployStep.State.WARNING
    assert len(forced.warnings) == 2


def test_it_runs_pytest_by_default_when_the_deployment_says_so(alice, workspace, tmp_path):
    deployment = factories.DeploymentFactory(workspace=workspace, pytest_by_default=True)
    project = make_project(tmp_path / "p", tests={"test_fail.py": FAILING_TEST})
    deploy = run(deployment, alice, project)
    assert deploy.run_pytest and deploy.state == Deploy.State.FAILED


def test_it_reuses_every_layer_and_rebuilds_only_the_last_for_a_dag_change(alice, workspace, tmp_path):
    deployment = factories.DeploymentFactory(workspace=workspace, dag_deploy_enabled=False)
    project = sample(tmp_path, "3.1")
    first = run(deployment, alice, project)
    second = run(deployment, alice, project)
    assert first.state == second.state == Deploy.State.SUCCEEDED
    assert second.image_digest == first.image_digest, "an unchanged project gives the very same image"
    build_log = deploy_log_text(second, step="BUILDING").splitlines()
    assert "Executing 8 build triggers" in " ".join(build_log)
    assert not any("Running in" in line for line in build_log), "no build step ran again"
    (project / "dags" / "example_dag.py").write_text(GOOD_DAG_3 + "\n# a small change\n")
    third = run(deployment, alice, project)
    api = docker.from_env().api
    before = api.history(f"{first.image_repository}:{first.image_tag}")
    after = api.history(f"{third.image_repository}:{third.image_tag}")
    # Newest first: the trigger's `USER astro` (metadata, 0 bytes), then the project COPY layer.
    assert "USER astro" in after[0]["CreatedBy"] and after[0]["Size"] == 0
    assert "COPY" in after[1]["CreatedBy"] and after[1]["Id"] != before[1]["Id"]
    assert [layer["Id"] for layer in before[2:]] == [layer["Id"] for layer in after[2:]], "every other layer reused"



def test_it_fails_a_requirement_that_would_change_the_runtime_naming_it(alice, workspace, tmp_path):
    deployment = factories.DeploymentFactory(workspace=workspace)
    project = make_project(tmp_path / "p", requirements="apache-airflow==2.9.0\n")
    deploy = run(deployment, alice, project)
    assert deploy.state == Deploy.State.FAILED
    assert "requirements.txt cannot be installed on this runtime" in deploy.error
    assert "apache-airflow==2.9.0" in deploy.error, deploy.error  # the conflicting pin, named


def test_it_stops_a_requirements_install_that_runs_past_its_time_limit(alice, workspace, tmp_path, settings):
    """A package index that never answers: the install is stopped and the error names the step."""
    settings.AIRDOCK_REQUIREMENTS_TIMEOUT = 3
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # accepts connections and never answers them
    port = server.getsockname()[1]
    try:
        deployment = factories.DeploymentFactory(workspace=workspace)
        project = make_project(tmp_path / "p", requirements=f"slowpkg @ http://127.0.0.1:{port}/slowpkg-1.0.tar.gz\n")
        deploy = run(deployment, alice, project)
    finally:
        server.close()
    assert deploy.state == Deploy.State.FAILED
    assert "installing requirements.txt took longer than 3 s (AIRDOCK_REQUIREMENTS_TIMEOUT)" in deploy.error, deploy.error
    assert deploy.steps.get(name=Deploy.State.BUILDING).state == DeployStep.State.FAILED
    assert deployment.deploys.filter(state=Deploy.State.SUCCEEDED).count() == 0


def test_it_names_a_debian_package_that_does_not_exist(alice, workspace, tmp_path):
    deployment = factories.DeploymentFactory(workspace=workspace)
    deploy = run(deployment, alice, make_project(tmp_path / "p", packages="jq\nno-such-package-airdock\n"))
    assert deploy.state == Deploy.State.FAILED
    assert "packages.txt cannot be installed" in deploy.error and "no-such-package-airdock" in deploy.error, deploy.error


@pytest.mark.parametrize("line", ["3.1", "2.10"])
def test_a_base_image_has_no_triggers_and_builds_a_dockerfile_that_copies_itself(alice, workspace, tmp_path, line):
    base = f"{RUNTIME_IMAGES[line]}-base"
    project = sample(tmp_path, line)
    (project / "Dockerfile").write_text(f"FROM {base}\nCOPY --chown=astro:0 dags /usr/local/airflow/dags\nCOPY --chown=astro:0 include /usr/local/airflow/include\n")
    deployment = factories.DeploymentFactory(workspace=workspace, dag_deploy_enabled=False)
    deploy = run(deployment, alice, project)
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert deploy.runtime_image_used == f"airdock/runtime:{RUNTIME_VERSIONS[line]}-base"
    assert "build triggers" not in deploy_log_text(deploy)
    assert deploy.parse_results["dag_ids"] and "example_dag" in deploy.parse_results["dag_ids"]
    listing = in_image(deploy, "sh", "-c", "ls -A; command -v jq || echo no-jq; python -c 'import emoji' 2>/dev/null || echo no-emoji")
    # Only what the Dockerfile copied: packages.txt / requirements.txt neither copied nor installed.
    names = set(listing.split())
    assert {"dags", "include", "no-emoji", "no-jq"} <= names
    assert not names & {"packages.txt", "requirements.txt", "tests", "README.md", ".env", "airflow_settings.yaml"}


def test_a_move_to_another_airflow_major_needs_the_deployments_confirmation_or_force(alice, workspace, tmp_path):
    deployment = factories.DeploymentFactory(workspace=workspace)
    first = run(deployment, alice, make_project(tmp_path / "a", line="2.10"))
    assert first.state == Deploy.State.SUCCEEDED, first.error
    deployment.refresh_from_db()
    assert deployment.runtime_image == RUNTIME_IMAGES["2.10"]  # the setting follows what runs
    assert (deployment.desired_runtime_version, deployment.desired_airflow_version) == ("12.12.0", "2.10.5")
    refused = run(deployment, alice, make_project(tmp_path / "b", line="3.1"))
    assert refused.state == Deploy.State.FAILED
    assert "moves" in refused.error and "Airflow 2.10.5 (Runtime 12.12.0)" in refused.error and "force" in refused.error
    assert refused.steps.get(name=Deploy.State.BUILDING).state == DeployStep.State.FAILED
    deployment.runtime_image = RUNTIME_IMAGES["3.1"]  # the user confirms in the deployment's settings
    deployment.save()
    moved = run(deployment, alice, make_project(tmp_path / "b", line="3.1"))
    assert moved.state == Deploy.State.SUCCEEDED, moved.error
    assert moved.airflow_change.startswith("Airflow 2.10.5 → 3.")
    assert any("from Airflow 2.10.5 to Airflow 3" in t for t in deploy_log_text(moved).splitlines())
    deployment.refresh_from_db()
    assert deployment.airflow_major == 3 and deployment.desired_runtime_version == "3.1-21"
    back = run(deployment, alice, make_project(tmp_path / "a", line="2.10"), force=True)
    assert back.state == Deploy.State.SUCCEEDED, back.error
    assert any("forced" in w for w in back.warnings)
