import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from deployments.models import Deploy, WorkspaceMembership
from deployments.services import deploys
from tests import factories
from tests.conftest import member
from tests.projects import make_project, pack


@pytest.fixture
def archive(tmp_path):
    return pack(make_project(tmp_path / "p"))


def upload(archive_bytes, name="project.tar.gz", **fields):
    return {"kind": "IMAGE_AND_DAGS", "archive": SimpleUploadedFile(name, archive_bytes), **fields}


def test_it_queues_an_uploaded_project_and_enqueues_it_on_commit(client, bob, deployment, archive, django_capture_on_commit_callbacks, monkeypatch):
    enqueued = []
    monkeypatch.setattr(deploys, "deploy_enqueue", lambda *, deploy: enqueued.append(deploy.pk))
    client.force_login(bob)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("deploy_create", args=[deployment.pk]), upload(archive, description="hello"))
    deploy = Deploy.objects.get()
    assert response.status_code == 302 and response.url == deploy.get_absolute_url()
    assert deploy.state == Deploy.State.QUEUED and deploy.created_by == bob and deploy.description == "hello"
    assert enqueued == [deploy.pk]
    assert [s.name for s in deploy.steps.all()] == [
        "UNPACKING", "BUILDING", "PARSING", "PUSHING", "UPLOADING_DAGS", "ACTIVATING",
    ]
    assert len(deploy.archive_sha256) == 64


def test_it_accepts_a_folder_picked_in_the_browser(client, bob, deployment, tmp_path, monkeypatch):
    monkeypatch.setattr(deploys, "deploy_enqueue", lambda *, deploy: None)
    root = make_project(tmp_path / "my-project")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    paths = [f"my-project/{p.relative_to(root).as_posix()}" for p in files]
    client.force_login(bob)
    response = client.post(reverse("deploy_create", args=[deployment.pk]), {
        "kind": "IMAGE_AND_DAGS", "folder_paths": json.dumps(paths),
        "folder": [SimpleUploadedFile(p.name, p.read_bytes()) for p in files],
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Deploy.objects.get().archive


def test_it_explains_a_rejected_archive(client, bob, deployment):
    client.force_login(bob)
    response = client.post(reverse("deploy_create", args=[deployment.pk]), upload(b"not an archive at all"))
    assert response.status_code == 400
    assert "neither a .zip nor a .tar.gz" in response.content.decode()
    assert not Deploy.objects.exists()


def test_it_refuses_a_second_deploy_while_one_is_active(client, bob, deployment, archive):
    active = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    client.force_login(bob)
    response = client.post(reverse("deploy_create", args=[deployment.pk]), upload(archive))
    assert response.status_code == 409
    assert f"Deploy {active.pk} is in progress" in response.content.decode()


def test_it_forbids_deploys_to_workspace_members(client, workspace, deployment, archive):
    client.force_login(member(workspace, WorkspaceMembership.Role.MEMBER))
    assert client.post(reverse("deploy_create", args=[deployment.pk]), upload(archive)).status_code == 403
    assert not Deploy.objects.exists()


def test_it_answers_404_to_an_outsider_on_every_deploy_view(client, charlie, deployment, archive):
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.FAILED)
    client.force_login(charlie)
    assert client.post(reverse("deploy_create", args=[deployment.pk]), upload(archive)).status_code == 404
    assert client.get(reverse("deploy_detail", args=[deploy.pk])).status_code == 404
    assert client.post(reverse("deploy_redeploy", args=[deploy.pk])).status_code == 404
    assert client.post(reverse("deploy_cancel", args=[deploy.pk])).status_code == 404


def test_it_shows_steps_log_parse_results_and_the_error(client, bob, deployment):
    deploy = factories.DeployFactory(
        deployment=deployment, state=Deploy.State.FAILED, error="1 DAG file(s) failed to import: dags/b.py line 4: boom",
        parse_results={"files": [{"file": "dags/b.py", "line": 4, "dag_ids": [], "error": "ModuleNotFoundError: boom", "seconds": 0.1, "skipped": False}]},
    )
    deploy.log_lines.create(seq=1, step="PARSING", text="ERROR dags/b.py line 4: boom")
    client.force_login(bob)
    page = client.get(reverse("deploy_detail", args=[deploy.pk])).content.decode()
    assert "dags/b.py:4" in page and "ModuleNotFoundError: boom" in page
    assert "Why it failed" in page and "ERROR dags/b.py line 4: boom" in page


def test_it_cancels_a_queued_deploy_and_keeps_what_ran(client, bob, deployment):
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.QUEUED)
    deploy.steps.create(name="BUILDING", position=0)
    client.force_login(bob)
    client.post(reverse("deploy_cancel", args=[deploy.pk]))
    deploy.refresh_from_db()
    assert deploy.state == Deploy.State.CANCELLED and deploy.finished_at
    assert deploy.steps.get().state == "SKIPPED"
    deploys.deploy_execute(deploy_id=deploy.pk)  # a job that starts later does nothing
    deploy.refresh_from_db()
    assert deploy.state == Deploy.State.CANCELLED


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

    def explode(self, paths):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(deploys._Run, "_unpack", explode)
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
    with pytest.raises(deploys.DeployError, match="must lie under tests/"):
        deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(archive), test_path=test_path)


def test_it_refuses_another_deployments_image_as_a_prebuilt_image(alice, deployment, workspace):
    other = factories.DeploymentFactory(workspace=workspace, name="other")
    for name in [f"airdock-build/deployment-{other.pk}:deploy-1", f"127.0.0.1:5000/acme/deployment-{other.pk}:deploy-x"]:
        with pytest.raises(deploys.DeployError, match="belongs to another deployment"):
            deploys.deploy_create(deployment=deployment, user=alice, kind="IMAGE", image_name=name)


def test_it_refuses_an_oversized_upload_with_a_clear_message(client, bob, deployment, archive, settings):
    settings.AIRDOCK_UPLOAD_MAX_BYTES = 100
    client.force_login(bob)
    response = client.post(reverse("deploy_create", args=[deployment.pk]), upload(archive))
    assert response.status_code == 413 and "more than the 100" in response.content.decode()
    assert not Deploy.objects.exists()


def test_it_explains_a_folder_upload_without_paths(client, bob, deployment):
    client.force_login(bob)
    response = client.post(reverse("deploy_create", args=[deployment.pk]), {
        "kind": "IMAGE_AND_DAGS", "folder_paths": '{"not": "a list"}', "folder": [SimpleUploadedFile("Dockerfile", b"FROM x")],
    })
    assert response.status_code == 400 and "lost its file paths" in response.content.decode()


def test_it_reaps_lost_deploys_from_the_command(deployment):
    lost = factories.DeployFactory(deployment=deployment, state=Deploy.State.TESTING)
    Deploy.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    from django.core.management import call_command
    call_command("airdock_reaper")
    lost.refresh_from_db()
    assert lost.state == Deploy.State.FAILED
