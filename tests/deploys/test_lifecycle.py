"""A deploy's life in the services: creating one (its checks), the state machine (lost workers,
cancellation, queueing failures) and the pipeline never leaving a deploy in progress."""
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from deployments.models import Deploy
from deployments.selectors import deploy_log_after, deploy_log_text
from deployments.services import deploys
from deployments.services.deploys import pipeline
from portal.errors import Invalid
from tests import factories
from tests.projects import make_project, pack


@pytest.fixture
def archive(tmp_path):
    return pack(make_project(tmp_path / "p"))


def test_it_fails_deploys_whose_worker_was_lost(alice, deployment, archive):
    lost = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    Deploy.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    new = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(archive))
    lost.refresh_from_db()
    assert lost.state == Deploy.State.FAILED and "worker running this deploy stopped" in lost.error
    assert new.state == Deploy.State.QUEUED


def test_it_fails_a_deploy_that_its_worker_had_started_before(deployment):
    started = factories.DeployFactory(deployment=deployment, state=Deploy.State.PARSING)
    deploys.deploy_execute(deploy_id=started.pk)
    started.refresh_from_db()
    assert started.state == Deploy.State.FAILED and "stopped before it ended" in started.error


def test_it_never_leaves_a_deploy_in_progress_after_an_unexpected_error(alice, deployment, archive, monkeypatch):
    deploy = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(archive))

    def explode(ctx):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(pipeline.STEPS, Deploy.State.UNPACKING, explode)
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    assert deploy.state == Deploy.State.FAILED and "disk on fire" in deploy.error
    assert deploy.steps.get(name="UNPACKING").state == "FAILED"
    assert set(deploy.steps.exclude(name="UNPACKING").values_list("state", flat=True)) == {"SKIPPED"}
    deployment.refresh_from_db()
    assert deployment.current_deploy is None


def test_it_fails_a_deploy_it_cannot_queue(alice, deployment, archive, monkeypatch, django_capture_on_commit_callbacks):
    import django_rq

    def unreachable(name):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(django_rq, "get_queue", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        deploy = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(archive))
    deploy.refresh_from_db()
    assert deploy.state == Deploy.State.FAILED and "is Redis running?" in deploy.error


@pytest.mark.parametrize("test_path", ["../etc", "/abs", "dags/x"])
def test_it_keeps_test_paths_under_tests(alice, deployment, archive, test_path):
    with pytest.raises(Invalid, match="must lie under tests/"):
        deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(archive), test_path=test_path)


def test_it_refuses_another_deployments_image_as_a_prebuilt_image(alice, deployment, workspace):
    other = factories.DeploymentFactory(workspace=workspace, name="other")
    for name in [f"airdock-build/deployment-{other.pk}:deploy-1", f"127.0.0.1:5000/acme/deployment-{other.pk}:deploy-x"]:
        with pytest.raises(Invalid, match="belongs to another deployment"):
            deploys.deploy_create(deployment=deployment, user=alice, kind="IMAGE", image_name=name)


def test_it_reaps_lost_deploys_from_the_command(deployment):
    lost = factories.DeployFactory(deployment=deployment, state=Deploy.State.TESTING)
    Deploy.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    call_command("airdock_reaper")
    lost.refresh_from_db()
    assert lost.state == Deploy.State.FAILED


def test_an_overlong_log_keeps_its_head_and_its_tail(deployment, monkeypatch):
    from deployments.services.deploys import log as deploy_log

    monkeypatch.setattr(deploy_log, "MAX_LINES", 30)
    monkeypatch.setattr(deploy_log, "TAIL_LINES", 10)
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    log = deploy_log.DeployLog(deploy)
    log.tail = deploy_log.collections.deque(maxlen=10)
    for n in range(1, 101):
        log(f"line {n}")
    log.close()
    texts = deploy_log_text(deploy).splitlines()
    assert texts[:19] == [f"line {n}" for n in range(1, 20)]
    assert texts[19].startswith("[71 log lines left out here")
    assert texts[20:] == [f"line {n}" for n in range(91, 101)]
    assert [line["seq"] for line in deploy_log_after(deploy, limit=None)] == list(range(1, 31))
