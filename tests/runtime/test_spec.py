"""The desired Swarm specs of a deployment (plain data: no engine needed)."""
import json

import pytest

from deployments.services import variables
from runtime import spec
from runtime.models import RuntimeCredentials
from tests import factories

pytestmark = pytest.mark.django_db


def test_plain_variables_are_in_each_components_environment_and_secret_ones_only_in_a_swarm_secret(workspace):
    deployment = factories.DeploymentFactory(
        workspace=workspace, desired_image_repository="127.0.0.1:5000/acme/deployment-1",
        desired_image_digest="sha256:" + "a" * 64, desired_airflow_version="3.1.8")
    variables.variable_set(deployment=deployment, key="WAREHOUSE_HOST", value="warehouse.internal", is_secret=False)
    variables.variable_set(deployment=deployment, key="WAREHOUSE_PASSWORD", value="s3cr3t-value", is_secret=True)
    wanted = spec.desired(deployment, RuntimeCredentials.objects.create(deployment=deployment), portal_url="http://portal")
    assert wanted.airflow and all(s.env["WAREHOUSE_HOST"] == "warehouse.internal" for s in [*wanted.airflow, wanted.migrate])
    assert "s3cr3t-value" not in json.dumps([s.env for s in wanted.services])
    [name] = [n for n in wanted.secrets if n.startswith(f"{spec.prefix(deployment.pk)}-env-")]
    assert json.loads(wanted.secrets[name]) == {"WAREHOUSE_PASSWORD": "s3cr3t-value"}
    assert all(any(ref.name == name and ref.target == "env" for ref in s.secrets) for s in wanted.airflow)
    variables.variable_set(deployment=deployment, key="WAREHOUSE_PASSWORD", value="another", is_secret=True)
    again = spec.desired(deployment, RuntimeCredentials.objects.get(deployment=deployment), portal_url="http://portal")
    assert name not in again.secrets  # a new value, a new secret (Swarm secrets cannot change): the components roll


def test_a_dag_only_deploy_leaves_every_service_spec_as_it_was(workspace):
    """A new DAG bundle reaches the components through their agents, never through Swarm: a spec that
    changed with it (a label naming the current deploy did) would restart every component."""
    deployment = factories.DeploymentFactory(
        workspace=workspace, desired_image_repository="127.0.0.1:5000/acme/deployment-1",
        desired_image_digest="sha256:" + "a" * 64, desired_airflow_version="3.1.8", desired_dag_bundle_version="1" * 64)
    creds = RuntimeCredentials.objects.create(deployment=deployment)
    before = {s.name: s.digest() for s in spec.desired(deployment, creds, portal_url="http://portal").services}
    deployment.current_deploy = factories.DeployFactory(deployment=deployment, dag_bundle_version="2" * 64)
    deployment.desired_dag_bundle_version = "2" * 64
    deployment.save()
    after = {s.name: s.digest() for s in spec.desired(deployment, creds, portal_url="http://portal").services}
    assert after == before


def test_airflow_2s_admin_user_takes_a_password_that_starts_with_a_dash(workspace, tmp_path):
    """A random password may start with "-": passed as --password=VALUE, argparse never takes it
    for an option (it did, one deployment in 64 could not migrate)."""
    import subprocess

    deployment = factories.DeploymentFactory(
        workspace=workspace, desired_image_repository="r/d", desired_image_digest="sha256:" + "a" * 64,
        desired_airflow_version="2.10.5")
    script = spec.desired(deployment, RuntimeCredentials.objects.create(deployment=deployment), portal_url="").migrate.command[-1]
    assert '--password="$(cat /run/secrets/admin_password)"' in script
    fake = tmp_path / "airflow"  # what the script hands to `airflow users create`, read back by a shell
    fake.write_text('#!/bin/sh\n[ "$1" = users ] && [ "$2" = list ] && exit 0\n[ "$1" = users ] && printf "%s\\n" "$@" >"$OUT"\nexit 0\n')
    fake.chmod(0o755)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "admin_password").write_text("-starts-with-a-dash")
    run = script.replace("/run/secrets", str(secrets)).replace("seq 40", "seq 1")
    subprocess.run(["bash", "-c", run], env={"PATH": f"{tmp_path}:/usr/bin:/bin", "OUT": str(tmp_path / "args")}, check=True)
    assert "--password=-starts-with-a-dash" in (tmp_path / "args").read_text().splitlines()


@pytest.mark.parametrize(("airflow", "key"), [
    ("3.1.8", "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"), ("2.11.0", "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL")])
def test_unchanged_dag_files_are_parsed_every_120_s_unless_the_user_says_otherwise(workspace, airflow, key):
    """Changed files are parsed at their processor's next turn (their modification time); the interval
    is for DAGs made from outside state, and the user may set another."""
    deployment = factories.DeploymentFactory(
        workspace=workspace, desired_image_repository="127.0.0.1:5000/acme/deployment-1",
        desired_image_digest="sha256:" + "a" * 64, desired_airflow_version=airflow)
    creds = RuntimeCredentials.objects.create(deployment=deployment)
    wanted = spec.desired(deployment, creds, portal_url="http://portal")
    assert {s.env[key] for s in wanted.airflow} == {"120"}
    variables.variable_set(deployment=deployment, key=key, value="30", is_secret=False)
    assert {s.env[key] for s in spec.desired(deployment, creds, portal_url="http://portal").airflow} == {"30"}
