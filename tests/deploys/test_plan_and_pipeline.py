"""The plan decided at creation is what the pipeline runs, step by step, and nothing else; a step's
error ends the deploy with its message; a forced check becomes a warning."""
import io

import pytest

from deployments.models import Deploy, DeployStep
from deployments.selectors import deploy_log_text
from deployments.services import deploys
from deployments.services.deploys import create, pipeline
from deployments.services.deploys.context import CheckFailed
from deployments.services.deploys.plan import archive_requirement, deploy_plan
from tests import factories
from tests.projects import make_project, pack

State = Deploy.State


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    monkeypatch.setattr(create, "deploy_enqueue", lambda *, deploy: None)


@pytest.fixture
def recorded(monkeypatch):
    """Every step but activation replaced by a recorder (activation is the real state change)."""
    calls = []
    for name in list(pipeline.STEPS):
        if name != State.ACTIVATING:
            monkeypatch.setitem(pipeline.STEPS, name, lambda ctx, name=name: calls.append(name))
    return calls


@pytest.mark.parametrize("options, expected", [
    ({}, ["UNPACKING", "BUILDING", "PARSING", "PUSHING", "UPLOADING_DAGS", "ACTIVATING"]),
    ({"run_pytest": True}, ["UNPACKING", "BUILDING", "PARSING", "TESTING", "PUSHING", "UPLOADING_DAGS", "ACTIVATING"]),
    ({"kind": "DAGS"}, ["UNPACKING", "PARSING", "UPLOADING_DAGS", "ACTIVATING"]),
    ({"kind": "IMAGE"}, ["UNPACKING", "BUILDING", "PARSING", "PUSHING", "ACTIVATING"]),
])
def test_the_pipeline_runs_exactly_the_planned_steps_in_order(alice, deployment, tmp_path, recorded, options, expected):
    deployment.desired_image_repository, deployment.desired_image_tag = "127.0.0.1:5000/acme/deployment-1", "t"
    deployment.save()
    archive = pack(make_project(tmp_path / "p"))
    deploy = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(archive), **options)
    assert list(deploy.steps.values_list("name", flat=True)) == expected == deploy_plan(deploy)
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    assert deploy.state == State.SUCCEEDED, deploy.error
    assert recorded == expected[:-1]
    assert set(deploy.steps.values_list("state", flat=True)) == {DeployStep.State.SUCCEEDED}
    assert set(expected) <= set(pipeline.STEPS)


def test_a_rollback_plans_only_activation():
    rollback = factories.DeployFactory.build(is_rollback=True)
    assert deploy_plan(rollback) == [State.ACTIVATING]


def test_one_rule_says_what_an_archive_must_hold():
    assert archive_requirement(kind="DAGS", image_name="") == "dags"
    assert archive_requirement(kind="IMAGE_AND_DAGS", image_name="my/image:1") == "dags"
    assert archive_requirement(kind="IMAGE_AND_DAGS", image_name="") == "project"
    assert archive_requirement(kind="IMAGE", image_name="") == "project"


@pytest.mark.parametrize("force, state, parse_state", [(False, State.FAILED, "FAILED"), (True, State.SUCCEEDED, "WARNING")])
def test_a_failed_check_fails_the_deploy_unless_forced(alice, deployment, tmp_path, recorded, monkeypatch, force, state, parse_state):
    def parse(ctx):
        raise CheckFailed("1 DAG file(s) failed to import: dags/x.py: boom")

    monkeypatch.setitem(pipeline.STEPS, State.PARSING, parse)
    deploy = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(pack(make_project(tmp_path / "p"))), force=force)
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    assert deploy.state == state
    steps = dict(deploy.steps.values_list("name", "state"))
    assert steps["PARSING"] == parse_state
    if force:
        assert any("dags/x.py: boom" in w for w in deploy.warnings)
    else:
        assert "dags/x.py: boom" in deploy.error and steps["PUSHING"] == "SKIPPED"
        assert "ERROR: 1 DAG file(s) failed to import" in deploy_log_text(deploy)
