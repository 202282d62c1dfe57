import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deployments.models import Deploy
from deployments.services import deploys
from deployments.services.deploys import create as deploy_create
from tenancy.models import WorkspaceMembership
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
    monkeypatch.setattr(deploy_create, "deploy_enqueue", lambda *, deploy: enqueued.append(deploy.pk))
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
    monkeypatch.setattr(deploy_create, "deploy_enqueue", lambda *, deploy: None)
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




def test_a_refused_button_shows_the_services_message_on_the_deploy_page(client, bob, deployment):
    failed = factories.DeployFactory(deployment=deployment, state=Deploy.State.FAILED)
    client.force_login(bob)
    for action, message in [("deploy_redeploy", "has no uploaded project"), ("deploy_rollback", "did not succeed")]:
        response = client.post(reverse(action, args=[failed.pk]), follow=True)
        assert response.redirect_chain[-1][0] == reverse("deploy_detail", args=[failed.pk])
        assert message in response.content.decode()
    assert Deploy.objects.count() == 1
