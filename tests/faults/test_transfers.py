"""Faults: the registry stops while a deploy is about to push its image. Down for a few seconds,
it costs a retry and the deploy succeeds; down for good, the deploy fails naming the push after its
bounded attempts, and nothing is activated. (The registry is the one `make services` runs, stopped
and started again by the test.)"""
import io
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from deployments.models import Deploy, Deployment
from deployments.selectors import deploy_log_text
from deployments.services import deploys
from tests.faults.conftest import run_watching
from tests.projects import make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def registry_up() -> bool:
    try:
        urllib.request.urlopen("http://127.0.0.1:5000/v2/", timeout=2)
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except OSError:
        return False
    return True


def stop_registry() -> None:
    subprocess.run(["pkill", "-f", "docker-registry serve"], check=False)
    for _ in range(40):
        if not registry_up():
            return
        time.sleep(0.25)
    raise AssertionError("the registry did not stop")


def start_registry() -> None:
    subprocess.run([str(ROOT / "scripts" / "services.sh")], check=True, capture_output=True)
    assert registry_up()


@pytest.fixture
def registry():
    yield
    if not registry_up():
        start_registry()  # whatever the test did, the next test has its registry


def deploy_stopping_the_registry(deployment, alice, root, *, down_for: float | None) -> Deploy:
    """Run a deploy; stop the registry once it parses (before its push), and start it again
    `down_for` seconds after the push began (never, with None)."""
    made = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(pack(root)))
    stopped, down = [False], [down_for]

    def on_state(state: str) -> None:
        if state == Deploy.State.PARSING and not stopped[0]:
            stop_registry()
            stopped[0] = True
        if state == Deploy.State.PUSHING and down[0] is not None:
            time.sleep(down[0])
            start_registry()
            down[0] = None

    run_watching(made, on_state)
    assert stopped[0], "the deploy never parsed"
    return made


def test_a_registry_down_for_a_moment_costs_a_retry_not_the_deploy(alice, deployment, tmp_path, registry):
    made = deploy_stopping_the_registry(deployment, alice, make_project(tmp_path / "p"), down_for=4)
    log = deploy_log_text(made)
    assert made.state == Deploy.State.SUCCEEDED, made.error
    assert "WARNING: the push failed (attempt 1 of 3)" in log
    assert Deployment.objects.get(pk=deployment.pk).desired_image_digest == made.image_digest


def test_a_registry_that_stays_down_fails_the_deploy_naming_the_push(alice, deployment, tmp_path, registry, settings):
    settings.AIRDOCK_TRANSFER_RETRY_DELAYS = [1.0, 2.0]
    made = deploy_stopping_the_registry(deployment, alice, make_project(tmp_path / "p"), down_for=None)
    assert made.state == Deploy.State.FAILED
    assert "(the push was tried 3 times)" in made.error
    assert made.steps.get(name=Deploy.State.PUSHING).state == "FAILED"
    assert Deployment.objects.get(pk=deployment.pk).current_deploy_id is None  # nothing activated
