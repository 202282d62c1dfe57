"""The dashboard answers "is my deploy live?" at a glance, and the deployment page shows each
component's desired vs running versions (from the data plane's last observation)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.models import Deploy, Deployment
from tests import factories

pytestmark = pytest.mark.django_db
DIGEST, OLD = "sha256:" + "a" * 64, "sha256:" + "b" * 64
BUNDLE = "c" * 64


def component(name, state="healthy", digest=DIGEST, bundle=BUNDLE, **extra):
    return {"name": name, "state": state, "replicas": 1, "running": 1, "running_image_digest": digest,
            "running_dag_bundle_version": bundle, "reason": "", "tasks": [], **extra}


@pytest.fixture
def live(workspace):
    deployment = factories.DeploymentFactory(workspace=workspace, name="live", status=Deployment.Status.HEALTHY,
                                             desired_image_digest=DIGEST, desired_dag_bundle_version=BUNDLE)
    deployment.current_deploy = factories.DeployFactory(deployment=deployment, image_digest=DIGEST)
    deployment.runtime_components = [component("scheduler"), component("worker-default"), component("db", digest="", bundle="")]
    deployment.save()
    return deployment


def test_the_dashboard_says_in_sync_or_behind_and_shows_a_failed_latest_attempt(client, alice, workspace, live):
    never = factories.DeploymentFactory(workspace=workspace, name="never")
    behind = factories.DeploymentFactory(workspace=workspace, name="behind", status=Deployment.Status.DEPLOYING,
                                         desired_image_digest=DIGEST, desired_dag_bundle_version=BUNDLE)
    behind.current_deploy = factories.DeployFactory(deployment=behind)
    behind.runtime_components = [component("scheduler", state="starting", digest=OLD), component("triggerer"),
                                 component("worker-default", state="draining", digest=OLD)]
    behind.save()
    failed = factories.DeployFactory(deployment=live, state=Deploy.State.FAILED)
    client.force_login(alice)
    page = client.get("/").content.decode()
    rows = {name: page.split(f'id="deployment-{d.pk}"', 1)[1].split("</tr>", 1)[0] for name, d in
            {"live": live, "never": never, "behind": behind}.items()}
    assert "in sync ✓" in rows["live"] and "3/3 healthy" in rows["live"]
    assert f"#{failed.pk}</a> failed" in rows["live"]  # the latest attempt, beside the live deploy
    assert "Not deployed yet" in rows["never"]
    assert "≠ 1 behind" in rows["behind"] and "scheduler" in rows["behind"] and "1 draining" in rows["behind"]


def test_the_deployment_page_lists_components_with_desired_vs_running(client, alice, live):
    live.runtime_components = [component("scheduler"), component("worker-default", state="starting", digest=OLD, reason="runs sha256:bbb… not sha256:aaa…"),
                               component("worker-default", state="draining", digest=OLD, grace_ends_at="2026-11-26T10:00:00+00:00")]
    live.save()
    client.force_login(alice)
    page = client.get(live.get_absolute_url()).content.decode()
    table = page.split('id="components"', 1)[1].split("</section>", 1)[0]
    assert table.count('data-component="worker-default"') == 2
    assert "✓" in table and "≠" in table and "draining" in table and "2026-11-26 10:00" in table
    assert "runs sha256:bbb" in table


def test_a_draining_worker_says_how_long_it_has_left(client, alice, live):
    ends = timezone.now() + timedelta(hours=23, minutes=30)
    live.runtime_components = [component("worker-default"),
                               component("worker-default", state="draining", digest=OLD, grace_ends_at=ends.isoformat())]
    live.save()
    client.force_login(alice)
    table = client.get(live.get_absolute_url()).content.decode().split('id="components"', 1)[1].split("</section>", 1)[0]
    assert f"stopped at the latest {ends:%Y-%m-%d %H:%M} UTC, in 23\xa0hours" in table
