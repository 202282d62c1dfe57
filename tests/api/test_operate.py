"""Operating a deployment through the API: settings (PATCH), hibernate, wake up, rollouts."""
import json

import pytest

from deployments.models import Deployment
from deployments.services import runtime

from .conftest import Role, auth, make_token

DIGEST = "sha256:" + "a" * 64


@pytest.fixture
def deployed(deployment, monkeypatch):
    monkeypatch.setattr(runtime, "reconcile_soon", lambda pk: None)
    deployment.desired_image_digest, deployment.desired_airflow_version = DIGEST, "3.1.1"
    deployment.save()
    return deployment


def patch(client, deployment, token, body):
    return client.patch(f"/api/v1/deployments/{deployment.pk}", json.dumps(body), content_type="application/json", **auth(token))


def test_a_manager_changes_queues_and_resources_and_sees_the_rollout(client, deployed, owner_token):
    body = {"worker_queues": [{"name": "default", "min_workers": 1, "max_workers": 3, "concurrency": 5},
                              {"name": "heavy", "min_workers": 0, "max_workers": 2, "concurrency": 1, "cpu": 2, "memory": 8192}],
            "resources": {"scheduler": {"memory": 4096}}}
    answer = patch(client, deployed, owner_token, body)
    assert answer.status_code == 200, answer.content
    shown = answer.json()
    assert [(q["name"], q["workers"], q["cpu"], q["memory"]) for q in shown["worker_queues"]] == [
        ("default", 1, 1.0, 2048), ("heavy", 0, 2.0, 8192)]
    assert shown["resources"]["scheduler"] == {"cpu": 1.0, "memory": 4096}
    assert set(shown["resources"]) == {"api-server", "scheduler", "dag-processor", "triggerer"}  # Airflow 3's
    [rollout] = client.get(f"/api/v1/deployments/{deployed.pk}/rollouts", **auth(owner_token)).json()
    assert rollout["kind"] == "settings" and rollout["summary"] == "resources, worker_queues" and rollout["state"] == "ROLLING"
    assert rollout["actor_name"] == "token t"


def test_bad_settings_are_refused_with_what_to_fix(client, deployed, owner_token):
    answer = patch(client, deployed, owner_token, {"worker_queues": [{"name": "heavy", "workers": 1, "concurrency": 1}]})
    assert answer.status_code == 400 and "Keep the 'default' queue" in answer.json()["detail"]
    answer = patch(client, deployed, owner_token, {"hibernation_schedules": [{"hibernate_at": "at seven", "wake_at": "0 7 * * *"}]})
    assert answer.status_code == 400 and "give five fields" in answer.json()["detail"]


def test_only_managers_operate_and_outsiders_see_nothing(client, deployed, org, workspace, foreign_token):
    author = make_token(org, Role.AUTHOR, workspace=workspace)
    assert patch(client, deployed, author, {"description": "x"}).status_code == 403
    assert client.post(f"/api/v1/deployments/{deployed.pk}/hibernate", **auth(author)).status_code == 403
    assert client.get(f"/api/v1/deployments/{deployed.pk}/rollouts", **auth(author)).status_code == 200
    for method, path in (("patch", ""), ("post", "/hibernate"), ("post", "/wake-up"), ("get", "/rollouts")):
        url = f"/api/v1/deployments/{deployed.pk}{path}"
        answer = client.get(url, **auth(foreign_token)) if method == "get" else \
            getattr(client, method)(url, "{}", content_type="application/json", **auth(foreign_token))
        assert answer.status_code == 404, (method, path)


def test_hibernate_then_wake_up(client, deployed, owner_token):
    answer = client.post(f"/api/v1/deployments/{deployed.pk}/hibernate", **auth(owner_token))
    assert answer.status_code == 200 and answer.json()["status"] == "HIBERNATING" and answer.json()["hibernating"]
    assert [q["workers"] for q in answer.json()["worker_queues"]] == [0]
    again = client.post(f"/api/v1/deployments/{deployed.pk}/hibernate", **auth(owner_token))
    assert again.status_code == 409 and "already hibernating" in again.json()["detail"]
    answer = client.post(f"/api/v1/deployments/{deployed.pk}/wake-up", **auth(owner_token))
    assert answer.status_code == 200 and answer.json()["status"] == "DEPLOYING"
    assert Deployment.objects.get(pk=deployed.pk).hibernating is False
    kinds = [r["kind"] for r in client.get(f"/api/v1/deployments/{deployed.pk}/rollouts", **auth(owner_token)).json()]
    assert kinds == ["wake_up", "hibernate"]
