"""Faults of the data plane, on the package's running Airflow 3 deployment (after
test_scenarios_operate.py): the Swarm manager's Docker engine is restarted while a rollout is under
way, as the new image's database migrations run (the first thing a rollout does). The pass is cut
short, its migration killed; the runtime watcher's periodic reconcile (as `make run` runs it)
resumes the rollout, and the deployment ends HEALTHY with every component on the new image."""
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import docker
import pytest
from django.db import connection
from django.test import override_settings

from deployments.models import Deployment
from runtime import jobs, spec, swarm
from runtime.jobs import reconcile_deployment
from runtime.observe import observe

from .airflow import deploy
from .checks import api, serving

pytestmark = [pytest.mark.services]
ROOT = Path(__file__).resolve().parents[2]
SERVICES = Path(os.environ.get("AIRDOCK_SERVICES_DIR", ROOT / "var" / "services"))
TIMINGS: dict[str, float] = {}


def engine_up() -> bool:
    try:
        return docker.from_env(timeout=5).ping()
    except Exception:  # noqa: BLE001 - not answering, for whatever reason
        return False


def restart_engine() -> None:
    """Stop the engine `make services` started (SIGTERM, as a service stop or a reboot does) and
    start it again with the project's script."""
    pid = int((SERVICES / "dockerd.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    for _ in range(240):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the Docker engine did not stop within 2 minutes")
    subprocess.run([str(ROOT / "scripts" / "services.sh")], check=True, capture_output=True, timeout=600)
    assert engine_up()


def test_a_rollout_cut_short_by_a_restart_of_the_managers_engine_is_resumed(lines):
    af = lines.af3
    assert (SERVICES / "dockerd.pid").exists(), "the engine is not the one make services started"
    (af.root / "include" / "version.txt").write_text("engine restart\n")
    made = deploy(Deployment.objects.get(pk=af.id), lines.alice, af.root)
    assert made.image_digest != af.digest
    errors: list[str] = []

    outcome: list[str] = []

    def rollout() -> None:
        try:
            outcome.append(reconcile_deployment(af.id))
        except Exception as exc:  # noqa: BLE001 - cut short by the restart: what the test expects
            errors.append(f"{exc.__class__.__name__}: {exc}")
            outcome.append("cut short")
        finally:
            connection.close()

    runner = threading.Thread(target=rollout)
    runner.start()
    job = f"{spec.prefix(af.id)}-migrate"
    deadline = time.monotonic() + 300
    while not any(t["state"] == "running" for t in swarm.service_tasks(job)):  # under way: migrating the new image
        assert runner.is_alive() and time.monotonic() < deadline, f"the pass ended before its migration was seen running: {errors}"
        time.sleep(0.5)
    started = time.monotonic()
    restart_engine()
    TIMINGS["engine down and up"] = time.monotonic() - started
    runner.join(timeout=900)
    assert outcome and outcome[0] in ("cut short", "migrations failed"), f"the restart did not cut the pass: {outcome}"
    # The runtime watcher: observes every few seconds, reconciles every AIRDOCK_RUNTIME_RECONCILE_EVERY.
    with override_settings(AIRDOCK_RUNTIME_RECONCILE_EVERY=30):
        last_reconcile = 0.0
        while True:
            deployment = observe(af.id)
            answer = api(lines, af.id)
            if deployment.status == Deployment.Status.HEALTHY and {c["running_image_digest"] for c in serving(answer)} == {made.image_digest}:
                break
            if time.monotonic() - last_reconcile >= 30:
                try:
                    jobs.reconcile_deployment(af.id)
                except Exception as exc:  # noqa: BLE001 - the engine may still be settling: the next pass
                    errors.append(f"{exc.__class__.__name__}: {exc}")
                last_reconcile = time.monotonic()
            assert time.monotonic() - started < 900, f"not resumed 15 min after the restart: {deployment.status} {deployment.status_reason}"
            time.sleep(3)
    TIMINGS["restart to HEALTHY on the new image"] = taken = time.monotonic() - started
    assert {(c["running_image_digest"], c["running_dag_bundle_version"]) for c in serving(answer)} == {
        (made.image_digest, made.dag_bundle_version)}
    af.digest, af.bundle = made.image_digest, made.dag_bundle_version
    print(f"\nthe manager's engine restarted mid-rollout: HEALTHY on the new image {taken:.0f} s later "
          f"(engine down and up: {TIMINGS['engine down and up']:.0f} s; the cut pass: {outcome[0]})")
