"""CI/CD against real services: rollback, git sources and webhooks, the airdock CLI end to end."""
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import django_rq
import pytest
from rq import SimpleWorker

from deployments.models import AuditEvent, Deploy, WorkspaceMembership
from deployments.services import deploys, tokens
from tests.projects import BROKEN_DAG, GOOD_DAG_3, make_project, pack

pytestmark = [pytest.mark.services]
Role = WorkspaceMembership.Role
ROOT = Path(__file__).resolve().parent.parent


def run(deployment, user, project, **options) -> Deploy:
    deploy = deploys.deploy_create(deployment=deployment, user=user, archive=io.BytesIO(pack(project)), **options)
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    return deploy


@pytest.mark.django_db
def test_it_rolls_back_to_an_earlier_image_digest_and_bundle_through_the_api(client, alice, org, deployment, tmp_path):
    project = make_project(tmp_path / "p")
    first = run(deployment, alice, project)
    (project / "dags" / "example_dag.py").write_text(GOOD_DAG_3 + "\n# second\n")
    (project / "include" / "helpers.py").write_text("def greeting(n):\n    return n\n")
    second = run(deployment, alice, project)
    assert first.state == second.state == Deploy.State.SUCCEEDED
    assert second.image_digest != first.image_digest and second.dag_bundle_version != first.dag_bundle_version
    raw = tokens.token_create(organization=org, role=Role.OPERATOR, name="ci")[1]
    response = client.post(f"/api/v1/deployments/{deployment.pk}/rollback", {"deploy_id": first.pk},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 202, response.content
    rollback = Deploy.objects.get(pk=response.json()["id"])
    deploys.deploy_execute(deploy_id=rollback.pk)
    rollback.refresh_from_db()
    assert rollback.state == Deploy.State.SUCCEEDED, rollback.error
    assert rollback.is_rollback and rollback.source_deploy == first
    deployment.refresh_from_db()
    assert deployment.desired_image_digest == first.image_digest
    assert deployment.desired_dag_bundle_version == first.dag_bundle_version
    assert deployment.current_deploy == rollback
    assert AuditEvent.objects.filter(action="deploy.rollback", detail__to_deploy=first.pk).exists()
    failed = run(deployment, alice, make_project(tmp_path / "broken", dags={"b.py": BROKEN_DAG}))
    with pytest.raises(deploys.DeployError, match="did not succeed"):
        deploys.deployment_rollback(deployment=deployment, deploy_id=failed.pk, user=alice)


@pytest.fixture
def bare_repo(tmp_path, settings):
    """A local bare repository with an Astro project under `airflow/` on branch main."""
    settings.AIRDOCK_GIT_ALLOWED_SCHEMES = ["file"]
    bare, work = tmp_path / "repo.git", tmp_path / "work"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}

    def git(*args, cwd=work):
        return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()

    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch", "main", str(bare)], check=True)
    make_project(work / "airflow")
    git("init", "--quiet", "--initial-branch", "main", cwd=tmp_path / "work")
    git("add", "-A")
    git("commit", "--quiet", "-m", "first")
    git("remote", "add", "origin", str(bare))
    git("push", "--quiet", "origin", "main")
    return bare, work, git


def signed(body: bytes, secret: str) -> dict:
    return {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "HTTP_X_GITHUB_EVENT": "push"}


@pytest.mark.django_db
def test_it_deploys_the_pushed_commit_from_a_signed_webhook(client, alice, deployment, bare_repo):
    bare, work, git = bare_repo
    deployment.git_url, deployment.git_branch, deployment.git_subdir = f"file://{bare}", "main", "airflow"
    deployment.webhook_secret = "s3cret"
    deployment.save()
    first_commit = git("rev-parse", "HEAD")
    (work / "airflow" / "dags" / "example_dag.py").write_text(GOOD_DAG_3.replace("example_dag", "pushed_dag"))
    git("commit", "--quiet", "-am", "second")
    git("push", "--quiet", "origin", "main")
    pushed = git("rev-parse", "HEAD")
    body = json.dumps({"ref": "refs/heads/main", "after": pushed, "before": first_commit}).encode()
    url = f"/hooks/git/{deployment.pk}/"
    bad = client.post(url, body, content_type="application/json", **signed(body, "wrong"))
    assert bad.status_code == 403 and not Deploy.objects.exists()
    assert client.post(url, body, content_type="application/json").status_code == 403
    other_branch = json.dumps({"ref": "refs/heads/dev", "after": pushed}).encode()
    assert client.post(url, other_branch, content_type="application/json", **signed(other_branch, "s3cret")).status_code == 202
    assert not Deploy.objects.exists()
    good = client.post(url, body, content_type="application/json", **signed(body, "s3cret"))
    assert good.status_code == 202, good.content
    deploy = Deploy.objects.get(pk=good.json()["deploy_id"])
    assert deploy.git_commit == pushed
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert deploy.parse_results["dag_ids"] == ["pushed_dag"]


@pytest.mark.django_db
def test_a_replayed_or_malformed_webhook_deploys_nothing_new(client, deployment, bare_repo, monkeypatch):
    bare, work, git = bare_repo
    deployment.git_url, deployment.git_subdir, deployment.webhook_secret = f"file://{bare}", "airflow", "s3cret"
    deployment.save()
    monkeypatch.setattr(deploys, "deploy_enqueue", lambda *, deploy: None)
    url = f"/hooks/git/{deployment.pk}/"
    head = git("rev-parse", "HEAD")

    def post(payload, **headers):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return client.post(url, body, content_type="application/json", **{**signed(body, "s3cret"), **headers})

    push = {"ref": "refs/heads/main", "after": head}
    first = post(push, HTTP_X_GITHUB_DELIVERY="d-1")
    assert first.status_code == 202, first.content
    replay = post(push, HTTP_X_GITHUB_DELIVERY="d-1")
    assert replay.status_code == 202 and replay.json()["deploy_id"] == first.json()["deploy_id"]
    assert Deploy.objects.count() == 1
    assert post([1, 2]).status_code == 400
    assert post({"ref": "refs/heads/main", "after": "--upload-pack=touch /tmp/x"}).status_code == 400
    assert post({"ref": "refs/heads/main", "after": head[:12]}).status_code == 400
    assert client.post(url, b"{}", content_type="application/json", HTTP_X_GITLAB_TOKEN="sécret").status_code == 403
    assert client.post("/hooks/git/999999/", b"{}", content_type="application/json", **signed(b"{}", "s3cret")).status_code == 403
    assert Deploy.objects.count() == 1


@pytest.mark.django_db
def test_it_deploys_the_branch_head_from_the_browser(client, bob, deployment, bare_repo, monkeypatch):
    bare, work, git = bare_repo
    deployment.git_url, deployment.git_subdir = f"file://{bare}", "airflow"
    deployment.save()
    monkeypatch.setattr(deploys, "deploy_enqueue", lambda *, deploy: None)
    client.force_login(bob)
    response = client.post(f"/deployments/{deployment.pk}/git-deploy/")
    deploy = Deploy.objects.get()
    assert response.status_code == 302 and deploy.git_commit == git("rev-parse", "HEAD")
    assert deploy.description.startswith("git main @ ")


@pytest.mark.django_db
def test_it_refuses_git_urls_of_schemes_not_allowed(alice, deployment, settings):
    from deployments.services.git import deploy_from_git

    settings.AIRDOCK_GIT_ALLOWED_SCHEMES = ["https"]
    deployment.git_url = "file:///etc"
    deployment.save()
    with pytest.raises(deploys.DeployError, match="not allowed here"):
        deploy_from_git(deployment=deployment, user=alice)


def airdock(*args, url, token, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "AIRDOCK_URL": url, "AIRDOCK_API_TOKEN": token}
    return subprocess.run([str(Path(sys.executable).with_name("airdock")), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def work_while(process: subprocess.Popen) -> None:
    """Be the RQ worker (in this thread, the main one) until the CLI process ends."""
    queue = django_rq.get_queue("deploys")
    worker = SimpleWorker([queue], connection=queue.connection)
    while process.poll() is None:
        worker.work(burst=True)
        time.sleep(0.3)


@pytest.mark.django_db(transaction=True)
def test_the_cli_deploys_a_project_end_to_end_and_fails_ci_on_a_failed_deploy(live_server, org, workspace, deployment, tmp_path):
    django_rq.get_queue("deploys").empty()
    raw = tokens.token_create(organization=org, role=Role.AUTHOR, workspace=workspace, name="ci")[1]
    project = make_project(tmp_path / "project")
    (project / ".dockerignore").write_text((project / ".dockerignore").read_text() + "secret-notes.txt\n")
    (project / "secret-notes.txt").write_text("never upload me")
    env = {**os.environ, "AIRDOCK_URL": live_server.url, "AIRDOCK_API_TOKEN": raw}
    cli = str(Path(sys.executable).with_name("airdock"))
    ok = subprocess.Popen([cli, "deploy", str(project), "--deployment-id", str(deployment.pk), "--wait", "--description", "from CI"],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    work_while(ok)
    out, err = ok.communicate()
    assert ok.returncode == 0, out + err
    assert "build triggers" in out and "succeeded" in out
    deploy = Deploy.objects.latest("pk")
    assert deploy.state == Deploy.State.SUCCEEDED and deploy.description == "from CI"
    assert "secret-notes.txt" not in "\n".join(deploy.log_lines.values_list("text", flat=True))
    (project / "dags" / "broken.py").write_text(BROKEN_DAG)
    bad = subprocess.Popen([cli, "deploy", str(project), "--deployment-id", str(deployment.pk), "--wait"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    work_while(bad)
    out, err = bad.communicate()
    assert bad.returncode == 1, out + err
    assert "failed" in err and "dags/broken.py line 4" in err
    listing = airdock("deploys", "list", "--deployment-id", str(deployment.pk), url=live_server.url, token=raw)
    assert listing.returncode == 0 and "SUCCEEDED" in listing.stdout and "FAILED" in listing.stdout
    refused = airdock("deploy", str(project), "--deployment-id", str(deployment.pk), url=live_server.url, token="adk_wrong")
    assert refused.returncode == 2 and "401" in refused.stderr
