"""A deployment of each Airflow line end to end on the real swarm: a full deploy reaches HEALTHY
with every component reporting the deploy's image digest and DAG bundle; a DAG run succeeds
through Airflow's own API on a Celery worker; a DAG-only deploy reaches every component without
restarting any, and its new DAG appears in Airflow."""
import pytest
from django.test import Client

from deployments.models import Deploy, Deployment
from deployments.services import tokens
from runtime.jobs import reconcile_deployment
from tenancy.models import WorkspaceMembership
from tests import factories
from tests.projects import GOOD_DAG_2, GOOD_DAG_3, make_project

from .airflow import (
    LINES,
    airflow_api,
    deploy,
    run_dag,
    service_containers,
    wait_for_dag,
)
from .conftest import wait_for

pytestmark = [pytest.mark.services]
COMPONENTS = {
    3: {"api-server", "scheduler", "dag-processor", "triggerer", "worker-default", "db", "broker"},
    2: {"webserver", "scheduler", "triggerer", "worker-default", "db", "broker"},
}


@pytest.mark.parametrize("major", [3, 2])
def test_a_deployment_runs_its_deploys_and_reports_what_it_runs(major, agent_portal, torn_down, org, alice, workspace, tmp_path):
    line, _, _ = LINES[major]
    dag = GOOD_DAG_3 if major >= 3 else GOOD_DAG_2
    deployment = factories.DeploymentFactory(workspace=workspace, name=f"af{major}", dag_deploy_enabled=True)
    torn_down.append(deployment.pk)
    root = make_project(tmp_path / "p", line=line, dags={"example_dag.py": dag})
    first = deploy(deployment, alice, root)
    reconcile_deployment(deployment.pk)
    wait_for(deployment.pk, lambda d: d.status == Deployment.Status.HEALTHY, timeout=420, what="HEALTHY")
    assert reconcile_deployment(deployment.pk) == "in sync"  # a second pass changes nothing

    raw = tokens.token_create(organization=org, role=WorkspaceMembership.Role.OWNER, name="t")[1]
    answer = Client().get(f"/api/v1/deployments/{deployment.pk}", HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    assert answer["status"] == "HEALTHY"
    assert {c["name"] for c in answer["components"]} == COMPONENTS[major]
    for component in answer["components"]:
        assert component["state"] == "healthy", component
        if component["name"] not in ("db", "broker"):
            assert component["running_image_digest"] == first.image_digest
            assert component["running_dag_bundle_version"] == first.dag_bundle_version

    assert run_dag(deployment.pk, major, "example_dag")["state"] == "success"

    before = {c.id for c in service_containers(deployment.pk)}
    (root / "dags" / "second_dag.py").write_text(dag.replace("example_dag", "second_dag"))
    second = deploy(deployment, alice, root, kind=Deploy.Kind.DAGS)
    assert second.dag_bundle_version != first.dag_bundle_version
    wait_for(deployment.pk, lambda d: d.status == Deployment.Status.HEALTHY and all(
        c["running_dag_bundle_version"] == second.dag_bundle_version
        for c in d.runtime_components if c["name"] not in ("db", "broker")), timeout=120, what="the new bundle everywhere")
    wait_for_dag(deployment.pk, major, "second_dag")
    assert {c.id for c in service_containers(deployment.pk)} == before  # nothing restarted
    assert airflow_api(deployment.pk, major, "GET", "/dags/second_dag")["dag_id"] == "second_dag"
