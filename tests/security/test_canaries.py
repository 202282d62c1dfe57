"""Secrets a project folder often holds (.env, .env.production, .aws/credentials,
airflow_settings.yaml) reach nothing Airdock keeps or shows: not the image, the DAG bundle, the
stored archive, the deploy log or an API answer; while a .zip under include/ stays a plain file and
the project deploys."""
import gzip
import io
import tarfile
import uuid
import zipfile

import docker
import pytest

from deployments.integrations import engine
from deployments.models import Deploy
from deployments.selectors import deploy_log_text
from deployments.services import bundles, deploys, tokens
from tenancy.models import WorkspaceMembership
from tests import factories
from tests.projects import make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db]
CANARY = b"AIRDOCK-CANARY-91c2e"
SECRETS = {
    ".env": b"AIRFLOW_CONN_X=postgres://u:" + CANARY + b"@db/x\n",
    ".env.production": b"TOKEN=" + CANARY + b"\n",
    ".aws/credentials": b"[default]\naws_secret_access_key = " + CANARY + b"\n",
    "airflow_settings.yaml": b"airflow:\n  variables:\n    - variable_name: k\n      variable_value: " + CANARY + b"\n",
}


def found(chunks, needles: list[bytes]) -> set[bytes]:
    """Which needles a stream of bytes holds (one that straddles two chunks included)."""
    seen, tail = set(), b""
    for chunk in chunks:
        seen |= {needle for needle in needles if needle in tail + chunk}
        tail = chunk[-64:]
    return seen


def test_project_secrets_reach_no_image_bundle_archive_log_or_api_answer(client, org, alice, workspace, tmp_path):
    nonce = f"AIRDOCK-NONCE-{uuid.uuid4()}".encode()  # in the image: proves the scan reads the project's files
    data_zip = io.BytesIO()
    with zipfile.ZipFile(data_zip, "w") as inner:
        inner.writestr("rows.csv", "a,b\n1,2\n")
    root = make_project(tmp_path / "p", extra={
        **{name: data.decode() for name, data in SECRETS.items()}, "include/nonce.txt": nonce.decode(),
    })
    (root / "include" / "data.zip").write_bytes(data_zip.getvalue())
    deployment = factories.DeploymentFactory(workspace=workspace)
    deploy = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(pack(root)))
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    deployment.refresh_from_db()
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error

    with deploy.archive.open("rb") as stored:
        assert CANARY not in gzip.decompress(stored.read())
    bundle, _ = bundles.bundle_fetch(deployment=deployment, version=deployment.desired_dag_bundle_version)
    assert CANARY not in gzip.decompress(bundle)
    assert CANARY.decode() not in deploy_log_text(deploy)

    raw = tokens.token_create(organization=org, role=WorkspaceMembership.Role.OWNER, name="t")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    for path in (f"/api/v1/deploys/{deploy.pk}", f"/api/v1/deploys/{deploy.pk}/log", f"/api/v1/deployments/{deployment.pk}"):
        answer = client.get(path, **auth)
        assert answer.status_code == 200 and CANARY not in answer.content, path

    # The whole file system of the image the deployment runs, pulled by digest as the runtime does.
    image = f"{deployment.desired_image_repository}@{deployment.desired_image_digest}"
    engine.image_pull(image, on_line=lambda line: None)
    container = docker.from_env().containers.create(image, command=["true"])
    try:
        assert found(container.export(chunk_size=1024 * 1024), [CANARY, nonce]) == {nonce}
        stream, _ = container.get_archive("/usr/local/airflow/include/data.zip")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as copied:
            assert copied.extractfile("data.zip").read() == data_zip.getvalue()
    finally:
        container.remove(force=True)
