"""Upgrade readiness: after a deploy, in the background, the project built and parsed on the newest
Runtime of its line and of the next Airflow major; the page and the API show the result."""
import io

import django_rq
import pytest

from deployments import jobs
from deployments.models import Deploy, Deployment
from deployments.services import deploys, tokens
from deployments.services.runtimes import table
from deployments.services.upgrades import readiness_targets
from tests import factories
from tests.projects import GOOD_DAG_2, GOOD_DAG_3, make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db]

LEGACY_DAG = '''\
from datetime import datetime
from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG("legacy", start_date=datetime(2025, 1, 1), schedule_interval=None):  # line 5: gone in Airflow 3
    EmptyOperator(task_id="noop")
'''


def deploy_project(workspace, user, root, capture) -> Deployment:
    deployment = factories.DeploymentFactory(workspace=workspace, runtime_image="")
    queue = django_rq.get_queue("default")
    queue.empty()
    deploy = deploys.deploy_create(deployment=deployment, user=user, archive=io.BytesIO(pack(root)))
    with capture(execute=True):  # django-rq enqueues once the surrounding transaction commits
        deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    queued = [job for job in queue.get_jobs() if job.func_name == "deployments.jobs.check_upgrade_readiness"]
    assert [job.args for job in queued] == [(deployment.pk, deploy.pk)], "the check is queued, not run in the deploy"
    deployment.refresh_from_db()
    assert deployment.upgrade_readiness == {}  # the deploy did not wait for it
    return deployment


def test_the_targets_are_the_newest_of_the_line_and_of_the_next_major():
    newest_3 = max((table.newest(line) for line in table.lines() if line.startswith("3.")), key=lambda v: v.key)
    assert [v.runtime for v in readiness_targets(table.get("12.0.0"))] == ["12.12.0", newest_3.runtime]
    assert [v.runtime for v in readiness_targets(table.get("3.1-8"))] == ["3.1-21"]


def test_it_names_the_dag_files_that_would_break_on_the_next_airflow_major(client, alice, workspace, tmp_path, django_capture_on_commit_callbacks):
    root = make_project(tmp_path / "p", line="2.10", dags={"example_dag.py": GOOD_DAG_2, "legacy.py": LEGACY_DAG})
    deployment = deploy_project(workspace, alice, root, django_capture_on_commit_callbacks)
    result = jobs.check_upgrade_readiness(deployment.pk, deployment.current_deploy_id)
    (target,) = result["targets"]  # 12.12.0 is the newest of its line: only the next major is checked
    assert target["runtime"].startswith("3.") and not target["ready"], target
    assert [e["file"] for e in target["errors"]] == ["dags/legacy.py"]
    assert "schedule_interval" in target["errors"][0]["error"]
    deployment.refresh_from_db()
    assert deployment.upgrade_readiness["targets"][0]["runtime"] == target["runtime"]
    client.force_login(alice)
    page = client.get(deployment.get_absolute_url()).content.decode()
    assert f"not ready</span> for Astro Runtime {target['runtime']}" in page and "dags/legacy.py line 5" in page
    raw = tokens.token_create(organization=workspace.organization, role="member", name="ci")[1]
    answer = client.get(f"/api/v1/deployments/{deployment.pk}", HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    assert answer["upgrade_readiness"]["targets"][0]["errors"][0]["file"] == "dags/legacy.py"
    assert (answer["runtime_version"], answer["airflow_version"]) == ("12.12.0", "2.10.5")


def test_it_says_ready_for_the_newest_runtime_of_the_line(alice, workspace, tmp_path, django_capture_on_commit_callbacks):
    root = make_project(tmp_path / "p", line="3.1", dags={"example_dag.py": GOOD_DAG_3})
    (root / "Dockerfile").write_text("FROM astrocrpublic.azurecr.io/runtime:3.1-8\n")
    deployment = deploy_project(workspace, alice, root, django_capture_on_commit_callbacks)
    result = jobs.check_upgrade_readiness(deployment.pk, deployment.current_deploy_id)
    assert [(t["runtime"], t["ready"]) for t in result["targets"]] == [("3.1-21", True)]
