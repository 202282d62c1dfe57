"""The data plane against the real engine: a swarm, the deployments' images in the registry, real
Airflow. An agent-facing portal (a live server on the swarm's gateway bridge) answers the agents.

Bringing a deployment up takes minutes, so the scenarios share running deployments: the fixtures
here live for the whole package (its database rows, its storage, its settings, the deployments of
`lines`), and the scenario modules' tests run in order, each one step of a deployment's life
(test_scenarios.py, test_scenarios_operate.py, then test_scenarios_restart.py)."""
import os
import time
from types import SimpleNamespace

import django_rq
import docker
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test.utils import override_settings, setup_databases, teardown_databases
from pytest_django.live_server_helper import LiveServer

from deployments.services import tokens
from runtime import spec, swarm
from runtime.jobs import reconcile_deployment
from runtime.observe import observe
from tenancy.models import OrganizationMembership, WorkspaceMembership
from tests import factories
from tests.asgi import free_port
from tests.projects import make_project

from . import dags
from .airflow import LINES, deploy

CONFIGURED_DATABASE = settings.DATABASES["default"]["NAME"]  # read at collection, before any test database


@pytest.fixture(scope="package")
def module_db(django_db_setup, django_db_blocker):
    """The database for the package's whole life, committed as the live server and workers see it; left
    empty afterwards, as a transactional test leaves it. pytest-django makes a test database only
    when some selected test asks for one by its markers or fixtures: when none does (the scenarios run
    alone), it is made here, never falling back to the portal's own database."""
    with django_db_blocker.unblock():
        made = None
        if connections["default"].settings_dict["NAME"] == CONFIGURED_DATABASE:
            made = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        assert connections["default"].settings_dict["NAME"] != CONFIGURED_DATABASE, "not on a test database"
        yield
        call_command("flush", interactive=False, verbosity=0)
        if made is not None:
            teardown_databases(made, verbosity=0)


@pytest.fixture(autouse=True)
def isolated_storage():
    """Replaces the per-test storage folder: a running deployment's bundles must outlive one test
    (`agent_portal` gives the module one folder)."""


@pytest.fixture(scope="package")
def agent_portal(module_db, tmp_path_factory):
    """The portal as the components' agents reach it; Swarm objects named apart from a running portal's."""
    connection = django_rq.get_connection("default")
    for key in connection.scan_iter("airdock:reconcile:*"):  # a killed earlier run's locks
        connection.delete(key)
    host = swarm.gateway_address()
    root = tmp_path_factory.mktemp("runtime-storage")
    storages = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root / "archives"}},
        "bundles": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root / "bundles"}},
    }
    # The portal's address as browsers reach it (Airflow's UI is served under it): the port the
    # browser tests' ASGI server will listen on.
    public = f"http://127.0.0.1:{free_port()}"
    overrides = override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, host], AIRDOCK_RUNTIME_NAME_PREFIX=PREFIX,
                                  STORAGES=storages, AIRDOCK_PUBLIC_URL=public)
    overrides.enable()
    server = LiveServer(f"{host}:0")
    url = override_settings(AIRDOCK_RUNTIME_PORTAL_URL=server.url)
    url.enable()
    clean_swarm()
    try:
        yield server
    finally:
        if not os.environ.get("AIRDOCK_TEST_KEEP_SWARM"):  # set it to look at a failed run's services
            clean_swarm()
        server.stop()
        url.disable()
        overrides.disable()


@pytest.fixture(scope="package")
def lines(agent_portal, tmp_path_factory):
    """An organization with one deployment per Airflow line, each with a first full deploy activated
    and reconciled (the tests wait for what follows). One worker each, until a step changes that."""
    org = factories.OrganizationFactory(name="Acme", slug="acme")
    alice = factories.UserFactory(username="alice@example.com")
    factories.OrganizationMembershipFactory(organization=org, user=alice, role=OrganizationMembership.Role.OWNER)
    workspace = factories.WorkspaceFactory(organization=org, name="Analytics")
    found = SimpleNamespace(org=org, alice=alice, workspace=workspace, portal=agent_portal,
                            token=tokens.token_create(organization=org, role=WorkspaceMembership.Role.OWNER, name="t")[1])
    for major in (3, 2):
        deployment = factories.DeploymentFactory(
            workspace=workspace, name=f"af{major}", dag_deploy_enabled=True,
            worker_queues=[{"name": "default", "min_workers": 1, "max_workers": 1, "concurrency": 5}])
        files = {"example_dag.py": dags.example(major), "airdock_probe.py": dags.PROBE_DAG,
                 "long_dag.py": dags.LONG_DAG.replace("SECONDS", "90"), "capped_dag.py": dags.CAPPED_DAG}
        if major >= 3:
            files |= {"wide_dag.py": dags.WIDE_DAG, "env_dag.py": dags.ENV_DAG, "queues_dag.py": dags.QUEUES_DAG,
                      "hog_dag.py": dags.HOG_DAG}
        files = {name: dags.for_line(major, text) for name, text in files.items()}
        root = make_project(tmp_path_factory.mktemp(f"af{major}"), line=LINES[major][0], dags=files)
        first = deploy(deployment, alice, root)
        setattr(found, f"af{major}", SimpleNamespace(major=major, id=deployment.pk, root=root, first=first,
                                                      digest=first.image_digest, bundle=first.dag_bundle_version))
    for major in (3, 2):
        reconcile_deployment(getattr(found, f"af{major}").id)
    return found


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
    deadline = time.monotonic() + 60
    while client.api.containers(filters={"label": f"io.airdock.instance={PREFIX}"}) and time.monotonic() < deadline:
        time.sleep(1)
    for container in client.api.containers(all=True, filters={"label": f"io.airdock.instance={PREFIX}"}):
        client.api.remove_container(container["Id"], force=True)  # finished jobs, and tasks orphaned by a killed run
    for secret in client.secrets.list(filters={"label": f"io.airdock.instance={PREFIX}"}):
        secret.remove()
    for volume in client.volumes.list(filters={"name": f"{PREFIX}-d"}):
        volume.remove(force=True)
    for network in client.networks.list(filters={"name": f"{PREFIX}-d"}):
        try:
            network.remove()
        except docker.errors.APIError:
            pass
