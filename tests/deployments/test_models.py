import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from deployments.models import Deploy, Deployment
from deployments.services.deployments import deployment_update
from tests import factories


def test_it_defaults_a_new_deployment_to_creating_with_one_queue(deployment):
    assert deployment.status == Deployment.Status.CREATING
    assert deployment.worker_queues == [{"name": "default", "min_workers": 1, "max_workers": 10, "concurrency": 5}]
    assert deployment.desired_image == ""
    assert deployment.airflow_major is None


def test_it_reads_the_airflow_line_from_the_desired_version(deployment):
    deployment.desired_airflow_version = "2.10.5"
    assert deployment.airflow_major == 2


def test_it_builds_the_full_image_reference(deployment):
    deployment.desired_image_repository = "127.0.0.1:5000/acme/etl"
    deployment.desired_image_tag = "deploy-20261124T120000Z-ab12cd"
    assert deployment.desired_image == "127.0.0.1:5000/acme/etl:deploy-20261124T120000Z-ab12cd"


def test_it_allows_only_one_active_deploy_per_deployment(deployment):
    factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    factories.DeployFactory(deployment=deployment, state=Deploy.State.FAILED)
    with pytest.raises(IntegrityError):
        factories.DeployFactory(deployment=deployment, state=Deploy.State.QUEUED)


def test_it_keeps_names_unique_within_a_parent(deployment):
    with pytest.raises(IntegrityError):
        factories.DeploymentFactory(workspace=deployment.workspace, name=deployment.name)


def test_the_one_active_deploy_constraint_covers_exactly_the_active_states():
    constraint = next(c for c in Deploy._meta.constraints if c.name == "one_active_deploy_per_deployment")
    (lookup, states), = constraint.condition.children
    assert lookup == "state__in" and set(states) == set(Deploy.ACTIVE_STATES)


def test_a_deployment_the_runtime_has_migrated_still_takes_settings_changes(deployment):
    """The data plane records the migrated image as repository@digest (over 100 characters)."""
    deployment.runtime_migrated_image = f"127.0.0.1:5000/acme/deployment-{deployment.pk}@sha256:" + "a" * 64
    deployment.save()
    deployment_update(deployment=deployment, worker_grace_period=600)
    deployment.refresh_from_db()
    assert deployment.worker_grace_period == 600
