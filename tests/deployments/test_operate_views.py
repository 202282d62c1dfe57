"""The deployment page's operations: hibernate and wake up buttons (owners and operators), the
worker queues as the autoscaler runs them, and the changes (rollouts) with their state."""
import pytest
from django.urls import reverse

from deployments.models import Deployment, Rollout
from deployments.services import runtime
from tenancy.models import WorkspaceMembership
from tests.conftest import member

pytestmark = pytest.mark.django_db
DIGEST = "sha256:" + "a" * 64


@pytest.fixture
def deployed(deployment, monkeypatch):
    monkeypatch.setattr(runtime, "reconcile_soon", lambda pk: None)
    deployment.desired_image_digest = DIGEST
    deployment.worker_queues = [{"name": "default", "min_workers": 1, "max_workers": 4, "concurrency": 5},
                                {"name": "heavy", "min_workers": 0, "max_workers": 2, "concurrency": 1, "memory": 8192}]
    deployment.runtime_autoscale = {"default": {"workers": 3, "waiting": 7, "running": 5}}
    deployment.save()
    return deployment


def test_the_page_shows_queues_as_they_scale_and_the_changes(client, alice, deployed):
    Rollout.objects.create(deployment=deployed, kind=Rollout.Kind.SETTINGS, summary="resources", actor_name="alice",
                           state=Rollout.State.FAILED, message="scheduler: down")
    client.force_login(alice)
    page = client.get(reverse("deployment_detail", args=[deployed.pk])).content.decode()
    assert '<tr data-queue="default"><td class="mono">default</td><td class="workers">3</td>' in page
    assert '<td class="waiting">7</td>' in page
    assert "heavy: 0–2 workers × 1, 1.0 CPU / 8192 MiB each" in page
    assert "Settings: resources" in page and "scheduler: down" in page and "rollout-failed" in page
    assert 'id="hibernate-form"' in page


def test_an_operator_hibernates_and_wakes_up_and_a_viewer_may_not(client, alice, deployed, workspace):
    client.force_login(alice)
    response = client.post(reverse("deployment_hibernate", args=[deployed.pk]))
    assert response.status_code == 302 and Deployment.objects.get(pk=deployed.pk).hibernating
    page = client.get(reverse("deployment_detail", args=[deployed.pk])).content.decode()
    assert 'id="wake-up-form"' in page and "Hibernating" in page
    again = client.post(reverse("deployment_hibernate", args=[deployed.pk]), follow=True).content.decode()
    assert "already hibernating" in again  # a flash message, nothing changed
    client.post(reverse("deployment_wake_up", args=[deployed.pk]))
    assert not Deployment.objects.get(pk=deployed.pk).hibernating

    viewer = member(workspace, WorkspaceMembership.Role.MEMBER)
    client.force_login(viewer)
    assert client.post(reverse("deployment_hibernate", args=[deployed.pk])).status_code == 403
    assert 'id="hibernate-form"' not in client.get(reverse("deployment_detail", args=[deployed.pk])).content.decode()
