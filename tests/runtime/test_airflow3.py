"""An Airflow 3 deployment end to end on the real swarm: a full deploy reaches HEALTHY with every
component reporting the deploy's image digest and DAG bundle; a DAG run succeeds through Airflow's
own API; a DAG-only deploy reaches every component without restarting any."""
import io
import json
import time

import docker
import pytest
from django.test import Client

from deployments.models import Deploy, Deployment
from deployments.services import deploys, tokens
from runtime.jobs import reconcile_deployment
from tenancy.models import WorkspaceMembership
from tests import factories
from tests.projects import GOOD_DAG_3, make_project, pack

from .conftest import wait_for

pytestmark = [pytest.mark.services]


def deploy(deployment, user, root, kind=Deploy.Kind.IMAGE_AND_DAGS) -> Deploy:
    made = deploys.deploy_create(deployment=deployment, user=user, archive=io.BytesIO(pack(root)), kind=kind)
    deploys.deploy_execute(deploy_id=made.pk)
    made.refresh_from_db()
    assert made.state == Deploy.State.SUCCEEDED, made.error
    return made


def airflow_api(deployment_id: int, method: str, path: str, body: dict | None = None) -> dict:
    """Call Airflow's own REST API from inside the deployment's API server container."""
    client = docker.from_env()
    container = next(c for c in client.containers.list(filters={"label": "com.docker.swarm.service.name"})
                     if c.labels["com.docker.swarm.service.name"].endswith(f"-d{deployment_id}-api-server"))
    script = (  # a token first: the simple auth manager hands one out on the deployment's own network
        "import json, sys, urllib.request\n"
        "token = json.load(urllib.request.urlopen('http://127.0.0.1:8080/auth/token', timeout=30))['access_token']\n"
        f"req = urllib.request.Request('http://127.0.0.1:8080/api/v2{path}', method={method!r}, "
        f"data={json.dumps(body).encode() if body is not None else None!r}, "
        "headers={'Content-Type': 'application/json', 'Authorization': 'Bearer ' + token})\n"
        "print(urllib.request.urlopen(req, timeout=30).read().decode())\n"
    )
    result = container.exec_run(["python", "-c", script])
    assert result.exit_code == 0, result.output.decode()
    return json.loads(result.output)


def containers_of(deployment_id: int) -> dict[str, str]:
    return {c.id: c.labels["com.docker.swarm.service.name"] for c in docker.from_env().containers.list(
        filters={"label": "com.docker.swarm.service.name"}) if f"-d{deployment_id}-" in c.labels["com.docker.swarm.service.name"]}


def test_an_airflow_3_deployment_runs_deploys_and_reports_what_it_runs(agent_portal, torn_down, org, alice, workspace, tmp_path):
    deployment = factories.DeploymentFactory(workspace=workspace, name="af3", dag_deploy_enabled=True)
    torn_down.append(deployment.pk)
    root = make_project(tmp_path / "p", dags={"example_dag.py": GOOD_DAG_3})
    first = deploy(deployment, alice, root)
    reconcile_deployment(deployment.pk)
    deployment = wait_for(deployment.pk, lambda d: d.status == Deployment.Status.HEALTHY, timeout=420, what="HEALTHY")

    raw = tokens.token_create(organization=org, role=WorkspaceMembership.Role.OWNER, name="t")[1]
    answer = Client().get(f"/api/v1/deployments/{deployment.pk}", HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    assert answer["status"] == "HEALTHY"
    names = {c["name"] for c in answer["components"]}
    assert {"api-server", "scheduler", "dag-processor", "triggerer", "worker-default", "db", "broker"} <= names
    for component in answer["components"]:
        assert component["state"] == "healthy", component
        if component["name"] not in ("db", "broker"):
            assert component["running_image_digest"] == first.image_digest
            assert component["running_dag_bundle_version"] == first.dag_bundle_version

    # A DAG run through Airflow's own API succeeds on a Celery worker.
    airflow_api(deployment.pk, "PATCH", "/dags/example_dag", {"is_paused": False})
    run = airflow_api(deployment.pk, "POST", "/dags/example_dag/dagRuns", {"logical_date": None})
    deadline = time.monotonic() + 180
    while (state := airflow_api(deployment.pk, "GET", f"/dags/example_dag/dagRuns/{run['dag_run_id']}")["state"]) not in ("success", "failed"):
        assert time.monotonic() < deadline, f"the DAG run is still {state}"
        time.sleep(3)
    assert state == "success"

    # A DAG-only deploy adds a DAG: every component takes the new bundle, none restarts.
    before = containers_of(deployment.pk)
    (root / "dags" / "second_dag.py").write_text(GOOD_DAG_3.replace("example_dag", "second_dag"))
    second = deploy(deployment, alice, root, kind=Deploy.Kind.DAGS)
    assert second.dag_bundle_version != first.dag_bundle_version
    wait_for(deployment.pk, lambda d: d.status == Deployment.Status.HEALTHY and all(
        c["running_dag_bundle_version"] == second.dag_bundle_version
        for c in d.runtime_components if c["name"] not in ("db", "broker")), timeout=120, what="the new bundle everywhere")
    deadline = time.monotonic() + 90
    while True:
        try:
            assert airflow_api(deployment.pk, "GET", "/dags/second_dag")["dag_id"] == "second_dag"
            break
        except AssertionError:
            assert time.monotonic() < deadline, "second_dag never appeared in Airflow"
            time.sleep(3)
    assert containers_of(deployment.pk) == before
