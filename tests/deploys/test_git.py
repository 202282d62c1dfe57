"""Git sources and push webhooks, against a real local repository and the real services."""
import hashlib
import hmac
import json
import os
import subprocess

import pytest

from deployments.models import Deploy
from deployments.services import deploys
from deployments.services.deploys import create as deploy_create
from portal.errors import Invalid
from tests.projects import GOOD_DAG_3, make_project

pytestmark = [pytest.mark.services]


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
    monkeypatch.setattr(deploy_create, "deploy_enqueue", lambda *, deploy: None)
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
    monkeypatch.setattr(deploy_create, "deploy_enqueue", lambda *, deploy: None)
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
    with pytest.raises(Invalid, match="not allowed here"):
        deploy_from_git(deployment=deployment, user=alice)
