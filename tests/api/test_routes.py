import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from deployments.models import ApiToken, Deploy, Deployment
from deployments.services import tokens
from deployments.services.deploys import create as deploy_create
from tenancy.models import AuditEvent, WorkspaceMembership
from tests import factories
from tests.projects import make_project, pack

from .conftest import auth, make_token

Role = WorkspaceMembership.Role




@pytest.fixture
def archive(tmp_path):
    return pack(make_project(tmp_path / "p"))


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    monkeypatch.setattr(deploy_create, "deploy_enqueue", lambda *, deploy: None)


def post_deploy(client, deployment, raw, archive, **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"archive": SimpleUploadedFile("p.tar.gz", archive), "kind": "image_and_dags", **extra.pop("data", {})}
    return client.post(f"/api/v1/deployments/{deployment.pk}/deploys", data, **auth(raw), **extra)


def test_it_creates_workspaces_and_deployments_answering_with_ids(client, owner_token, org):
    response = client.post("/api/v1/workspaces", {"name": "CI"}, content_type="application/json", **auth(owner_token))
    assert response.status_code == 201
    ws_id = response.json()["id"]
    response = client.post(f"/api/v1/workspaces/{ws_id}/deployments", {"name": "etl", "dag_deploy_enabled": False},
                           content_type="application/json", **auth(owner_token))
    assert response.status_code == 201
    deployment = Deployment.objects.get(pk=response.json()["id"])
    assert deployment.workspace_id == ws_id and deployment.dag_deploy_enabled is False
    assert client.get(f"/api/v1/workspaces/{ws_id}", **auth(owner_token)).json()["name"] == "CI"
    assert [d["id"] for d in client.get(f"/api/v1/workspaces/{ws_id}/deployments", **auth(owner_token)).json()] == [deployment.pk]
    assert {w["name"] for w in client.get("/api/v1/workspaces", **auth(owner_token)).json()} == {"CI"}


def test_it_rejects_bad_deployment_settings_with_a_message(client, owner_token, workspace):
    response = client.post(f"/api/v1/workspaces/{workspace.pk}/deployments",
                           {"name": "x", "worker_queues": [{"name": "Bad Name", "workers": 1, "concurrency": 1}]},
                           content_type="application/json", **auth(owner_token))
    assert response.status_code == 400 and "lower-case" in response.json()["detail"]


def test_it_enforces_roles_for_every_write(client, org, workspace, deployment, author_token, archive):
    member = make_token(org, Role.MEMBER, workspace=workspace)
    assert client.post("/api/v1/workspaces", {"name": "X"}, content_type="application/json", **auth(author_token)).status_code == 403
    assert client.post(f"/api/v1/workspaces/{workspace.pk}/deployments", {"name": "x"}, content_type="application/json", **auth(author_token)).status_code == 403
    assert post_deploy(client, deployment, member, archive).status_code == 403
    assert client.post(f"/api/v1/deployments/{deployment.pk}/rollback", {"deploy_id": 1}, content_type="application/json", **auth(member)).status_code == 403
    assert client.get(f"/api/v1/deployments/{deployment.pk}", **auth(member)).status_code == 200
    assert not Deploy.objects.exists()


def test_it_answers_404_to_a_token_of_another_workspace_on_every_endpoint(client, foreign_token, workspace, deployment, archive):
    deploy = factories.DeployFactory(deployment=deployment)
    urls = [
        ("get", f"/api/v1/workspaces/{workspace.pk}"), ("get", f"/api/v1/workspaces/{workspace.pk}/deployments"),
        ("get", f"/api/v1/deployments/{deployment.pk}"), ("get", f"/api/v1/deployments/{deployment.pk}/deploys"),
        ("get", f"/api/v1/deploys/{deploy.pk}"), ("get", f"/api/v1/deploys/{deploy.pk}/log"),
    ]
    for method, url in urls:
        assert getattr(client, method)(url, **auth(foreign_token)).status_code == 404, url
    assert client.post(f"/api/v1/workspaces/{workspace.pk}/deployments", {"name": "x"}, content_type="application/json", **auth(foreign_token)).status_code == 404
    assert post_deploy(client, deployment, foreign_token, archive).status_code == 404
    assert client.post(f"/api/v1/deployments/{deployment.pk}/rollback", {"deploy_id": deploy.pk}, content_type="application/json", **auth(foreign_token)).status_code == 404


def test_it_keeps_a_deployment_scoped_token_to_its_deployment(client, org, workspace, deployment):
    other = factories.DeploymentFactory(workspace=workspace, name="other")
    raw = make_token(org, Role.AUTHOR, deployment=deployment)
    assert client.get(f"/api/v1/deployments/{deployment.pk}", **auth(raw)).status_code == 200
    assert client.get(f"/api/v1/deployments/{other.pk}", **auth(raw)).status_code == 404


def test_it_refuses_missing_revoked_and_expired_tokens(client, org, workspace, deployment):
    raw = make_token(org, Role.OWNER)
    token = ApiToken.objects.get(prefix=raw[:10])
    expired = make_token(org, Role.OWNER, expires_at=timezone.now() + timedelta(seconds=1))
    ApiToken.objects.filter(prefix=expired[:10]).update(expires_at=timezone.now() - timedelta(seconds=1))
    url = f"/api/v1/deployments/{deployment.pk}"
    assert client.get(url, **auth(raw)).status_code == 200
    tokens.token_revoke(token=token)
    for bad in [raw, expired, "adk_not-a-token", ""]:
        assert client.get(url, **auth(bad)).status_code == 401
    assert client.get(url).status_code == 401


def test_it_records_token_use_and_stores_only_a_hash(client, org, deployment):
    raw = make_token(org, Role.OWNER)
    assert raw.startswith("adk_") and len(raw) >= 4 + 43
    token = ApiToken.objects.get(prefix=raw[:10])
    assert raw not in json.dumps(list(ApiToken.objects.values()), default=str)
    client.get(f"/api/v1/deployments/{deployment.pk}", **auth(raw))
    token.refresh_from_db()
    assert token.last_used_at and token.last_used_ip == "127.0.0.1"


def test_it_queues_a_deploy_and_is_safe_to_retry(client, author_token, deployment, archive):
    first = post_deploy(client, deployment, author_token, archive, HTTP_IDEMPOTENCY_KEY="ci-run-42")
    assert first.status_code == 202
    body = first.json()
    assert body["state"] == "QUEUED" and body["url"].endswith(f"/deploys/{body['id']}/")
    retry = post_deploy(client, deployment, author_token, archive, HTTP_IDEMPOTENCY_KEY="ci-run-42")
    assert retry.status_code == 202 and retry.json()["id"] == body["id"]
    conflict = post_deploy(client, deployment, author_token, archive, HTTP_IDEMPOTENCY_KEY="ci-run-43")
    assert conflict.status_code == 409 and f"Deploy {body['id']} is in progress" in conflict.json()["detail"]
    other_caller = post_deploy(client, deployment, make_token(deployment.workspace.organization, Role.OWNER), archive,
                               HTTP_IDEMPOTENCY_KEY="ci-run-42")
    assert other_caller.status_code == 400 and "already used for deploy" in other_caller.json()["detail"]
    other_kind = post_deploy(client, deployment, author_token, archive, HTTP_IDEMPOTENCY_KEY="ci-run-42", data={"kind": "dags"})
    assert other_kind.status_code == 400 and "another kind of deploy" in other_kind.json()["detail"]
    deploy = Deploy.objects.get()
    assert deploy.created_by_token.prefix == author_token[:10]
    assert AuditEvent.objects.filter(action="deploy.create", actor_kind="token", actor_token_prefix=author_token[:10]).exists()
    assert conflict.json()["active_deploy_id"] == body["id"]


def test_it_explains_a_bad_upload(client, author_token, deployment):
    response = post_deploy(client, deployment, author_token, b"garbage")
    assert response.status_code == 400 and "neither a .zip nor a .tar.gz" in response.json()["detail"]


def test_it_refuses_an_oversized_upload_before_reading_it(client, author_token, deployment, archive, settings, monkeypatch):
    settings.AIRDOCK_UPLOAD_MAX_BYTES = len(archive) // 2
    monkeypatch.setattr(deploy_create, "_spool", lambda upload: pytest.fail("the body was read"))
    response = post_deploy(client, deployment, author_token, archive)
    assert response.status_code == 413 and "AIRDOCK_UPLOAD_MAX_BYTES" in response.json()["detail"]
    assert not Deploy.objects.exists()


def test_it_hides_credentials_in_the_git_url(client, author_token, deployment):
    deployment.git_url = "https://ci-bot:ghp_s3cr3t@github.com/acme/airflow.git"
    deployment.save()
    shown = client.get(f"/api/v1/deployments/{deployment.pk}", **auth(author_token)).json()["git"]["url"]
    assert shown == "https://***@github.com/acme/airflow.git"


def test_it_reports_a_deploy_and_follows_its_log(client, author_token, deployment):
    deploy = factories.DeployFactory(
        deployment=deployment, state=Deploy.State.SUCCEEDED, image_repository="127.0.0.1:5000/acme/deployment-1",
        image_tag="deploy-20260101T000000Z-abc123", image_digest="sha256:" + "a" * 64, dag_bundle_version="b" * 64,
    )
    for seq in range(1, 6):
        deploy.log_lines.create(seq=seq, step="BUILDING", text=f"line {seq}")
    body = client.get(f"/api/v1/deploys/{deploy.pk}", **auth(author_token)).json()
    assert body["state"] == "SUCCEEDED" and body["image"] == "127.0.0.1:5000/acme/deployment-1:deploy-20260101T000000Z-abc123"
    assert body["image_digest"].startswith("sha256:") and body["dag_bundle_version"] == "b" * 64
    page = client.get(f"/api/v1/deploys/{deploy.pk}/log?offset=3", **auth(author_token)).json()
    assert [l["text"] for l in page["lines"]] == ["line 4", "line 5"] and page["next_offset"] == 5 and page["finished"]
    detail = client.get(f"/api/v1/deployments/{deployment.pk}", **auth(author_token)).json()
    assert set(detail) >= {"status", "desired_image_digest", "desired_dag_bundle_version", "components"}


def test_it_serves_an_openapi_schema(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/deployments/{deployment_id}/deploys" in schema["paths"]
    assert schema["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"


def test_it_prints_a_new_token_alone_from_the_command(org, workspace, capsys):
    call_command("create_api_token", "--organization", org.slug, "--workspace", str(workspace.pk), "--role", "author")
    out = capsys.readouterr().out
    assert out.startswith("adk_") and out.count("\n") == 1
    token = tokens.token_authenticate(raw=out.strip())
    assert token.workspace == workspace and token.role == "author"


@pytest.mark.django_db
def test_the_asgi_server_refuses_an_oversized_upload_from_its_headers_alone(settings):
    """Under ASGI, Django receives the whole body before middleware runs: the wrapper answers first."""
    from asgiref.sync import async_to_sync
    from asgiref.testing import ApplicationCommunicator

    from portal.asgi import application

    settings.AIRDOCK_UPLOAD_MAX_BYTES = 1024
    scope = {"type": "http", "method": "POST", "path": "/api/v1/deployments/1/deploys", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1:8000"), (b"content-length", b"5000000000")], "http_version": "1.1",
             "scheme": "http", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000)}

    async def scenario():
        app = ApplicationCommunicator(application, scope)  # sends no body: reading it would hang
        start = await app.receive_output(timeout=5)
        body = await app.receive_output(timeout=5)
        return start, body

    start, body = async_to_sync(scenario)()
    assert start["status"] == 413
    assert "AIRDOCK_UPLOAD_MAX_BYTES" in json.loads(body["body"])["detail"]


def test_it_validates_a_workspace_in_the_service_with_a_message(client, owner_token):
    response = client.post("/api/v1/workspaces", {"name": "x" * 101}, content_type="application/json", **auth(owner_token))
    assert response.status_code == 400 and "name:" in response.json()["detail"]


def test_a_deploy_key_is_made_by_managers_and_only_its_public_half_is_shown(client, org, workspace, deployment, owner_token, author_token):
    url = f"/api/v1/deployments/{deployment.pk}/deploy-key"
    assert client.post(url, **auth(author_token)).status_code == 403
    made = client.post(url, **auth(owner_token))
    assert made.status_code == 201
    public = made.json()["git"]["deploy_key"]
    assert public.startswith("ssh-ed25519 ") and "PRIVATE" not in made.content.decode()
    shown = client.get(f"/api/v1/deployments/{deployment.pk}", **auth(author_token)).json()
    assert shown["git"]["deploy_key"] == public
    assert AuditEvent.objects.filter(action="deployment.deploy_key", target=deployment.name).exists()
