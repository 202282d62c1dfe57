"""Operating a deployment through the services: settings changes as rollouts, hibernation by hand
and on schedules, deploys while hibernating, and the migration of fixed worker counts."""
import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.db import connection

from deployments.models import Deployment, Rollout
from deployments.services import deployments as deployment_services
from deployments.services import hibernation, rollouts, runtime
from portal.errors import Conflict, Invalid
from tenancy.audit import Actor
from tenancy.models import AuditEvent
from tests import factories

DIGEST = "sha256:" + "a" * 64


@pytest.fixture
def reconciles(monkeypatch, deployment):
    calls = []
    monkeypatch.setattr(runtime, "reconcile_soon", calls.append)
    deployment.desired_image_digest = DIGEST
    deployment.save()
    return calls


def test_a_change_of_worker_queues_is_a_rollout_with_who_asked(deployment, reconciles, alice):
    queues = [{"name": "default", "min_workers": 1, "max_workers": 4, "concurrency": 5},
              {"name": "heavy", "min_workers": 0, "max_workers": 2, "concurrency": 1, "memory": 4096}]
    deployment_services.deployment_update(deployment=deployment, worker_queues=queues, actor=Actor(user=alice))
    rollout = Rollout.objects.get(deployment=deployment)
    assert (rollout.kind, rollout.summary, rollout.actor_name, rollout.state) == (
        "settings", "worker_queues", alice.get_username(), Rollout.State.ROLLING)
    assert reconciles == [deployment.pk]
    deployment_services.deployment_update(deployment=deployment, description="only words")
    assert Rollout.objects.count() == 1 and reconciles == [deployment.pk]  # nothing the components run


def test_a_newer_change_supersedes_one_still_rolling_out(deployment, reconciles):
    deployment_services.deployment_update(deployment=deployment, resources={"scheduler": {"memory": 4096}})
    deployment_services.deployment_update(deployment=deployment, worker_grace_period=600)
    first, second = Rollout.objects.order_by("pk")
    assert first.state == Rollout.State.SUPERSEDED and second.state == Rollout.State.ROLLING


def test_bad_settings_change_nothing(deployment, reconciles):
    with pytest.raises(Invalid, match="min_workers \\(3\\) is above max_workers \\(1\\)"):
        deployment_services.deployment_update(
            deployment=deployment, worker_queues=[{"name": "default", "min_workers": 3, "max_workers": 1, "concurrency": 5}])
    assert not Rollout.objects.exists() and reconciles == []


def test_observation_settles_a_rollout_done_or_failed_past_the_deadline(deployment, reconciles, settings):
    settings.AIRDOCK_RUNTIME_ROLLOUT_DEADLINE = 600
    deployment_services.deployment_update(deployment=deployment, worker_grace_period=600)
    assert rollouts.rollouts_settle(deployment, status=Deployment.Status.DEPLOYING, reason="", running=3) == []
    assert rollouts.rollouts_settle(deployment, status=Deployment.Status.UNHEALTHY, reason="x", running=3) == []  # in time
    Rollout.objects.update(created_at=datetime.now(UTC) - timedelta(minutes=11))
    [failed] = rollouts.rollouts_settle(deployment, status=Deployment.Status.UNHEALTHY, reason="scheduler: down", running=3)
    assert failed.state == Rollout.State.FAILED and failed.message == "scheduler: down"
    deployment_services.deployment_update(deployment=deployment, worker_grace_period=700)
    # Healthy, but on the old settings: no reconcile pass gave the change to Swarm yet.
    assert rollouts.rollouts_settle(deployment, status=Deployment.Status.HEALTHY, reason="", running=3) == []
    rollouts.rollouts_applied(rollouts.rollouts_pending(deployment.pk))
    [done] = rollouts.rollouts_settle(deployment, status=Deployment.Status.HEALTHY, reason="", running=3)
    assert done.state == Rollout.State.DONE and done.applied_at is not None


def test_hibernate_and_wake_up_by_hand_are_audited_rollouts(deployment, reconciles, alice):
    hibernation.deployment_hibernate(deployment=deployment, actor=Actor(user=alice))
    deployment.refresh_from_db()
    assert deployment.hibernating and deployment.status == Deployment.Status.HIBERNATING
    with pytest.raises(Conflict, match="already hibernating"):
        hibernation.deployment_hibernate(deployment=deployment)
    [rollout] = rollouts.rollouts_settle(deployment, status=Deployment.Status.HIBERNATING, reason="", running=0)
    assert rollout.kind == Rollout.Kind.HIBERNATE and rollout.state == Rollout.State.DONE
    hibernation.deployment_wake_up(deployment=deployment, actor=Actor(user=alice))
    deployment.refresh_from_db()
    assert not deployment.hibernating and deployment.status == Deployment.Status.DEPLOYING
    assert list(AuditEvent.objects.filter(action__startswith="deployment.").values_list("action", flat=True).order_by("pk")) == [
        "deployment.hibernate", "deployment.wake_up"]
    assert reconciles == [deployment.pk, deployment.pk]


def test_a_change_while_hibernating_waits_for_the_wake_up(deployment, reconciles):
    hibernation.deployment_hibernate(deployment=deployment)
    deployment.refresh_from_db()
    deployment_services.deployment_update(deployment=deployment, worker_grace_period=900)
    change = Rollout.objects.get(kind=Rollout.Kind.SETTINGS)
    assert change.message == "Runs when the deployment wakes up."
    rollouts.rollouts_settle(deployment, status=Deployment.Status.HIBERNATING, reason="", running=0)
    assert Rollout.objects.get(pk=change.pk).state == Rollout.State.ROLLING


def test_a_deploy_activated_while_hibernating_keeps_it_hibernating(deployment, reconciles):
    from deployments.services.deploys.states import deploy_activate

    hibernation.deployment_hibernate(deployment=deployment)
    deploy = factories.DeployFactory(deployment=deployment, state="ACTIVATING", image_digest="sha256:" + "b" * 64,
                                     image_repository="r/x", image_tag="t")
    deploy.steps.create(name="ACTIVATING", position=0)
    deploy_activate(deploy=deploy)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.HIBERNATING and deployment.desired_image_digest == "sha256:" + "b" * 64
    assert "runs when the deployment wakes up" in deployment.status_reason


def test_schedules_hibernate_and_wake_when_they_fire_and_leave_a_change_by_hand_alone(deployment, reconciles):
    deployment_services.deployment_update(deployment=deployment, hibernation_schedules=[
        {"hibernate_at": "0 19 * * *", "wake_at": "0 7 * * *"}])
    evening = datetime(2026, 12, 1, 19, 0, 30, tzinfo=UTC)
    Deployment.objects.filter(pk=deployment.pk).update(hibernation_checked_at=evening - timedelta(minutes=1))
    assert hibernation.schedules_apply(evening) == 1
    deployment.refresh_from_db()
    assert deployment.hibernating
    assert AuditEvent.objects.get(action="deployment.hibernate").detail == {"by": "the hibernation schedule"}
    hibernation.deployment_wake_up(deployment=deployment)  # by hand, at night
    assert hibernation.schedules_apply(evening + timedelta(hours=2)) == 0  # nothing fired since
    assert not Deployment.objects.get(pk=deployment.pk).hibernating
    assert hibernation.schedules_apply(evening + timedelta(days=1)) == 1  # the next evening, after a day's gap
    assert Deployment.objects.get(pk=deployment.pk).hibernating


def test_the_latest_firing_wins_and_disabled_schedules_never_fire():
    since, now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC), datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    both = [{"hibernate_at": "0 19 * * *", "wake_at": "0 7 * * *"}]
    assert hibernation.scheduled_state(both, since, now) is True
    assert hibernation.scheduled_state(both, since, now.replace(hour=8)) is False
    assert hibernation.scheduled_state([{**both[0], "enabled": False}], since, now) is None


@pytest.mark.django_db
def test_the_migration_turns_a_fixed_number_of_workers_into_min_and_max(workspace):
    step = importlib.import_module("deployments.migrations.0012_operate_settings")
    deployment = factories.DeploymentFactory(workspace=workspace, name="old")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE deployments_deployment SET worker_queues = %s WHERE id = %s",
                       ['[{"name": "etl", "workers": 2, "concurrency": 4}]', deployment.pk])
    step.queues_scale(apps, None)
    assert Deployment.objects.get(pk=deployment.pk).worker_queues == [
        {"name": "default", "min_workers": 1, "max_workers": 10, "concurrency": 5},
        {"name": "etl", "concurrency": 4, "min_workers": 2, "max_workers": 2}]
