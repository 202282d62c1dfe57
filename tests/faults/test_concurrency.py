"""Concurrency against the real API (a threaded live server): 50 deploy requests to one deployment
at once are one deploy and 49 answers 409 naming it; the same Idempotency-Key three times at once
is one deploy that every caller gets; a rollback while a deploy is active is refused; with Redis
down, a deploy request is a clear 503 and no deploy is left QUEUED."""
import io
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from deployments.models import Deploy
from tests import factories
from tests.api.conftest import Role, auth, make_token
from tests.asgi import database_url, start_daphne
from tests.projects import make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def multipart(archive: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"p.tar.gz\"\r\n"
            "Content-Type: application/gzip\r\n\r\n").encode() + archive + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post_all(url: str, token: str, archive: bytes, count: int, headers: dict | None = None) -> list[tuple[int, dict]]:
    body, content_type = multipart(archive)
    answers: list[tuple[int, dict]] = []
    start = threading.Barrier(count)

    def one() -> None:
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Authorization": f"Bearer {token}", "Content-Type": content_type, **(headers or {})})
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                answers.append((answer.status, json.loads(answer.read())))
        except urllib.error.HTTPError as exc:
            answers.append((exc.code, json.loads(exc.read() or b"{}")))
        except OSError as exc:  # no answer at all: counted, never lost
            answers.append((0, {"detail": f"{exc.__class__.__name__}: {exc}"}))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.fixture
def setup(org, deployment, tmp_path, isolated_storage):
    """The portal's ASGI server (daphne, as `make run` serves it) on the test's database and storage."""
    env = {**os.environ, "DATABASE_URL": database_url(),
           "AIRDOCK_VAR_DIR": str(isolated_storage), "AIRDOCK_API_DEPLOYS_PER_MINUTE": "1000"}
    server, url = start_daphne(env, subprocess.DEVNULL)
    yield f"{url}/api/v1/deployments/{deployment.pk}", make_token(org, Role.OWNER), pack(make_project(tmp_path / "p"))
    server.terminate()
    server.wait(timeout=20)


def test_fifty_requests_at_once_are_one_deploy_and_forty_nine_conflicts_naming_it(setup, deployment):
    url, token, archive = setup
    started = time.monotonic()
    answers = post_all(f"{url}/deploys", token, archive, 50)
    print(f"\n50 deploy requests at once: all answered in {time.monotonic() - started:.1f} s")
    accepted = [body for status, body in answers if status == 202]
    conflicts = [body for status, body in answers if status == 409]
    assert len(accepted) == 1 and len(conflicts) == 49, [a for a in answers if a[0] != 409]
    assert {c["active_deploy_id"] for c in conflicts} == {accepted[0]["id"]}
    assert Deploy.objects.filter(deployment=deployment).count() == 1


def test_the_same_idempotency_key_three_times_at_once_is_one_deploy_for_every_caller(setup, deployment):
    url, token, archive = setup
    answers = post_all(f"{url}/deploys", token, archive, 3, headers={"Idempotency-Key": "ci-run-42"})
    assert [status for status, _ in answers] == [202, 202, 202], answers
    assert len({body["id"] for _, body in answers}) == 1
    assert Deploy.objects.filter(deployment=deployment).count() == 1


def test_a_rollback_while_a_deploy_is_active_is_refused(client, org, deployment):
    token = make_token(org, Role.OWNER)
    done = factories.DeployFactory(deployment=deployment, state=Deploy.State.SUCCEEDED, image_digest="sha256:" + "a" * 64,
                                   dag_bundle_version="b" * 64)
    active = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    refused = client.post(f"/api/v1/deployments/{deployment.pk}/rollback", json.dumps({"deploy_id": done.pk}),
                          content_type="application/json", **auth(token))
    assert refused.status_code == 409 and refused.json()["active_deploy_id"] == active.pk


def test_with_redis_down_a_deploy_request_is_503_and_nothing_is_left_queued(client, org, deployment, tmp_path, settings):
    settings.RQ_QUEUES = {**settings.RQ_QUEUES, "deploys": {"URL": "redis://127.0.0.1:1/0", "DEFAULT_TIMEOUT": 60}}
    answer = client.post(f"/api/v1/deployments/{deployment.pk}/deploys", {"archive": io.BytesIO(pack(make_project(tmp_path / "p")))},
                         **auth(make_token(org, Role.OWNER)))
    assert answer.status_code == 503 and "The deploy queue (Redis) does not answer" in answer.json()["detail"]
    assert not Deploy.objects.filter(deployment=deployment).exists()
