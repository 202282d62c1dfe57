"""The data plane against the real engine: a swarm, the deployments' images in the registry, real
Airflow. An agent-facing portal (a live server on the swarm's gateway bridge) answers the agents."""
import os
import time

import docker
import pytest
from pytest_django.live_server_helper import LiveServer

from runtime import spec, swarm
from runtime.observe import observe


@pytest.fixture
def agent_portal(transactional_db, settings):
    """The portal as the components' agents reach it; Swarm objects named apart from a running portal's."""
    import django_rq

    connection = django_rq.get_connection("default")
    for key in connection.scan_iter("airdock:reconcile:*"):  # a killed earlier run's locks
        connection.delete(key)
    host = swarm.gateway_address()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
    settings.AIRDOCK_RUNTIME_NAME_PREFIX = PREFIX
    server = LiveServer(f"{host}:0")
    settings.AIRDOCK_RUNTIME_PORTAL_URL = server.url
    yield server
    server.stop()


def wait_for(deployment_id: int, condition, *, timeout: float, what: str):
    """Observe the deployment until `condition(deployment)` holds; fail with its last status."""
    deadline = time.monotonic() + timeout
    while True:
        deployment = observe(deployment_id)
        if condition(deployment):
            return deployment
        if time.monotonic() > deadline or "migrations of the new image failed" in deployment.status_reason:
            logs = "\n".join(f"--- {s.name}\n{swarm.service_logs(s.name, tail=6)}"
                             for s in swarm.services_list(spec.owner_labels(deployment_id)))
            raise AssertionError(f"{what} not reached in {timeout:.0f} s: {deployment.status} {deployment.status_reason}\n"
                                 f"{deployment.runtime_components}\n{logs}")
        time.sleep(2)


PREFIX = "airdocktest"


def clean_swarm() -> None:
    """Remove every test service, then (once their containers are gone) their secrets and volumes:
    deployment ids start again at 1 in each test database, and must not meet an earlier run's data."""
    client = docker.from_env()
    for service in client.services.list(filters={"label": f"io.airdock.instance={PREFIX}"}):
        service.remove()
    deadline = time.monotonic() + 90
    while client.api.containers(all=True, filters={"label": f"io.airdock.instance={PREFIX}"}) and time.monotonic() < deadline:
        time.sleep(1)
    for secret in client.secrets.list(filters={"label": f"io.airdock.instance={PREFIX}"}):
        secret.remove()
    for volume in client.volumes.list(filters={"name": f"{PREFIX}-d"}):
        volume.remove(force=True)
    for network in client.networks.list(filters={"name": f"{PREFIX}-d"}):
        try:
            network.remove()
        except docker.errors.APIError:
            pass


@pytest.fixture
def torn_down():
    """A clean swarm before, and after, the test's deployments."""
    clean_swarm()
    ids: list[int] = []
    yield ids
    if not os.environ.get("AIRDOCK_TEST_KEEP_SWARM"):  # set it to look at a failed test's services
        clean_swarm()
