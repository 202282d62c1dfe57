"""Faults: Redis (the one `make services` runs, with its append-only file) is stopped while a real
worker runs a deploy and another waits in the queue, and started again. The running deploy ends
(its state lives in the database, not in Redis), the queued one survives the restart and runs, and
while Redis is down a deploy request is a clear 503 that makes nothing."""
import io
import os
import subprocess
import time
from pathlib import Path

import pytest

from deployments.models import Deploy, Deployment
from deployments.services import deploys
from tests import factories
from tests.api.conftest import Role, auth, make_token
from tests.projects import make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
SERVICES = Path(os.environ.get("AIRDOCK_SERVICES_DIR", ROOT / "var" / "services"))
PORT = os.environ.get("AIRDOCK_REDIS_PORT", "6379")


def rcli(*args: str) -> str:
    env = {**os.environ, "REDISCLI_AUTH": (SERVICES / "secrets" / "redis.password").read_text().strip()}
    found = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", PORT, *args], env=env, capture_output=True, text=True, timeout=30, check=False)
    return found.stdout.strip()


def start_redis() -> None:
    subprocess.run([str(ROOT / "scripts" / "services.sh")], check=True, capture_output=True)
    for _ in range(100):  # persistence on, and any rewrite of the append-only file done
        info = rcli("info", "persistence")
        if "aof_enabled:1" in info and "aof_rewrite_in_progress:0" in info and "loading:0" in info:
            return
        time.sleep(0.2)
    raise AssertionError(f"Redis has no append-only file: {info}")


def stop_redis() -> None:
    rcli("shutdown")  # as a service stop does: the append-only file is flushed first
    for _ in range(60):
        if rcli("ping") != "PONG":
            return
        time.sleep(0.25)
    raise AssertionError("Redis did not stop")


@pytest.fixture
def redis():
    start_redis()
    yield
    if rcli("ping") != "PONG":
        start_redis()  # whatever the test did, the next test has its Redis


def test_a_redis_restart_loses_no_deploy_and_a_request_while_it_is_down_is_503(
        client, org, alice, deployment, workspace, tmp_path, start_worker, redis):
    second, third = (factories.DeploymentFactory(workspace=workspace, name=n) for n in ("second", "third"))
    archive = pack(make_project(tmp_path / "p"))
    running = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(archive))
    workers = [start_worker("deploys", AIRDOCK_ORG_CONCURRENT_DEPLOYS="0")]  # one worker: the second deploy waits
    while not Deploy.objects.get(pk=running.pk).started_at:
        time.sleep(0.2)
    waiting = deploys.deploy_create(deployment=second, user=alice, archive=io.BytesIO(archive))
    stop_redis()
    down = time.monotonic()
    answer = client.post(f"/api/v1/deployments/{third.pk}/deploys", {"archive": io.BytesIO(archive)},
                         **auth(make_token(org, Role.OWNER)))
    assert answer.status_code == 503 and "The deploy queue (Redis) does not answer" in answer.json()["detail"]
    assert not Deploy.objects.filter(deployment=third).exists()
    time.sleep(max(0.0, 5 - (time.monotonic() - down)))
    start_redis()
    back = time.monotonic()
    while Deploy.objects.filter(pk__in=[running.pk, waiting.pk], state__in=Deploy.ACTIVE_STATES).exists():
        if workers[-1].poll() is not None:  # it died of the outage: as make run's supervisor does, start it again
            workers.append(start_worker("deploys", AIRDOCK_ORG_CONCURRENT_DEPLOYS="0"))
        assert time.monotonic() - back < 600, "the deploys did not end within 10 minutes of Redis' return"
        time.sleep(1)
    taken = time.monotonic() - back
    running.refresh_from_db()
    waiting.refresh_from_db()
    assert running.state == Deploy.State.SUCCEEDED, running.error
    assert waiting.state == Deploy.State.SUCCEEDED, waiting.error
    assert Deployment.objects.get(pk=second.pk).current_deploy_id == waiting.pk
    print(f"\nRedis down for 5 s during a deploy: both deploys SUCCEEDED {taken:.0f} s after it came back "
          f"(worker restarts: {len(workers) - 1})")
