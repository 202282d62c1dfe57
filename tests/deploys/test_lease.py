"""A running deploy's lease: its worker renews it from a thread of its own; a deploy whose lease ran
out is failed as "worker lost" by the reaper, which also removes its check containers and its
temporary folder. The fault suite kills real workers (tests/faults/)."""
import contextlib
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import docker
import pytest
from django.utils import timezone

from deployments.models import Deploy
from deployments.services.deploys import pipeline, states
from tests import factories


def started(deployment, state=Deploy.State.BUILDING, quiet=0):
    deploy = factories.DeployFactory(deployment=deployment, state=state)
    at = timezone.now() - timedelta(seconds=quiet)
    Deploy.objects.filter(pk=deploy.pk).update(started_at=at, heartbeat_at=at, worker="build-1:4242")
    return deploy


def test_a_deploy_whose_lease_ran_out_fails_naming_the_worker_and_the_step(deployment, settings):
    settings.AIRDOCK_DEPLOY_LEASE_SECONDS = 45
    lost, alive = started(deployment, Deploy.State.PARSING, quiet=50), started(factories.DeploymentFactory(
        workspace=deployment.workspace, name="other"), quiet=5)
    assert states.deploys_fail_lost() == 1
    lost.refresh_from_db()
    assert lost.state == Deploy.State.FAILED
    assert lost.error.startswith("The worker running this deploy was lost (build-1:4242 gave no sign of life for 5")
    assert "while parsing dags" in lost.error and "nothing was changed" in lost.error
    assert Deploy.objects.get(pk=alive.pk).state == Deploy.State.BUILDING


@pytest.mark.services
def test_the_reaper_removes_what_a_lost_run_left(deployment, settings):
    settings.AIRDOCK_DEPLOY_LEASE_SECONDS = 45
    lost = started(deployment, Deploy.State.PARSING, quiet=120)
    folder = Path(tempfile.mkdtemp(prefix=f"{states.TEMP_PREFIX}{lost.pk}-"))
    engine = docker.from_env()
    container = engine.containers.run("airdock/debian:bookworm", ["sleep", "300"], detach=True,
                                      labels={"io.airdock.deploy": str(lost.pk)})
    try:
        states.deploys_fail_lost()
        assert not folder.exists()
        assert not engine.containers.list(all=True, filters={"label": f"io.airdock.deploy={lost.pk}"})
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)


@pytest.mark.django_db(transaction=True)
def test_the_lease_is_renewed_while_the_run_goes_on(deployment, settings):
    settings.AIRDOCK_DEPLOY_HEARTBEAT_SECONDS = 0.2
    deploy = started(deployment, quiet=100)
    with pipeline._lease(deploy.pk):
        time.sleep(1)
        renewed = Deploy.objects.get(pk=deploy.pk).heartbeat_at
    assert timezone.now() - renewed < timedelta(seconds=2)
