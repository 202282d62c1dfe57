"""The world a benchmark runs in: Airdock as `make run` serves it (scripts/run.sh: daphne, the RQ
worker, the reaper, the runtime watcher), on a database, storage, Redis database and Swarm names of
its own (var/bench, Redis database 12, services `airdockbench-*`), so neither a running portal nor
the test suite is touched. Everything a case does goes through the portal's HTTP API or its pages,
as a user's CI or browser would; the bench process reads timings from the same database."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "bench"
SERVICES = Path(os.environ.get("AIRDOCK_SERVICES_DIR", ROOT / "var" / "services"))
PREFIX = "airdockbench"
BUCKET = "airdock-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configure() -> dict[str, str]:
    """The environment of this process and of the portal's: set before Django starts. The bench's
    database starts empty each run."""
    shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir(parents=True)
    port = free_port()
    password = (SERVICES / "secrets" / "redis.password").read_text().strip()
    env = {
        "DJANGO_SETTINGS_MODULE": "portal.settings", "AIRDOCK_VAR_DIR": str(VAR), "AIRDOCK_PORT": str(port),
        "REDIS_URL": f"redis://:{password}@127.0.0.1:{os.environ.get('AIRDOCK_REDIS_PORT', '6379')}/12",
        "AIRDOCK_RUNTIME_NAME_PREFIX": PREFIX, "AIRDOCK_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "AIRDOCK_RUNTIME_CACHE_DIR": str(ROOT / "var" / "runtime-cache"),
        "AIRDOCK_BUNDLE_STORAGE": "s3", "AIRDOCK_S3_BUCKET": BUCKET,
        "AIRDOCK_S3_ENDPOINT_URL": os.environ.get("AIRDOCK_S3_ENDPOINT_URL", f"http://127.0.0.1:{os.environ.get('AIRDOCK_S3_PORT', '9100')}"),
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        "AIRDOCK_API_DEPLOYS_PER_MINUTE": "10000", "AIRDOCK_API_AUTH_FAILURES_PER_MINUTE": "10000",
    }
    os.environ.update(env)
    return env


class Portal:
    """scripts/run.sh in its own process group, and what the cases need to talk to it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.url = f"http://127.0.0.1:{env['AIRDOCK_PORT']}"
        self.process: subprocess.Popen | None = None
        self.extra: list[subprocess.Popen] = []

    def start(self) -> None:
        import boto3
        import requests

        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=os.environ, check=True)
        s3 = boto3.client("s3", endpoint_url=self.env["AIRDOCK_S3_ENDPOINT_URL"], region_name="us-east-1")
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            s3.create_bucket(Bucket=BUCKET)
        log = open(VAR / "portal.log", "w")  # noqa: SIM115 - the portal's for its life
        self.process = subprocess.Popen(["scripts/run.sh"], cwd=ROOT, env=os.environ, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        for _ in range(300):
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/login/", timeout=2).status_code == 200:
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the portal did not start: {(VAR / 'portal.log').read_text()[-3000:]}")

    def worker(self) -> None:
        """One more deploy worker, beside run.sh's."""
        log = open(VAR / f"worker-{len(self.extra)}.log", "w")  # noqa: SIM115
        self.extra.append(subprocess.Popen([sys.executable, "manage.py", "rqworker", "deploys"], cwd=ROOT, env=os.environ,
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def pid_of(self, name: str) -> int:
        return int((VAR / "run" / f"{name}.pid").read_text())

    def daphne_pid(self) -> int:
        found = subprocess.run(["pgrep", "-f", f"daphne -b 127.0.0.1 -p {self.env['AIRDOCK_PORT']}"], capture_output=True, text=True,
                               check=False)
        return int(found.stdout.split()[0])

    def stop(self) -> None:
        for process in [*self.extra, self.process]:
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:  # a worker finishes its job first (an upgrade-readiness build may take minutes): not here
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)


def remove_swarm_objects() -> None:
    """The bench's deployments' services, secrets, volumes and networks (of this run or a killed one)."""
    import docker
    import docker.errors

    client = docker.from_env(timeout=120)
    label = f"io.airdock.instance={PREFIX}"
    for service in client.services.list(filters={"label": label}):
        with contextlib.suppress(docker.errors.APIError):  # a busy swarm: the next run removes it
            service.remove()
    deadline = time.monotonic() + 60
    while client.api.containers(filters={"label": label}) and time.monotonic() < deadline:
        time.sleep(1)
    for container in client.api.containers(all=True, filters={"label": label}):
        client.api.remove_container(container["Id"], force=True)
    for secret in client.secrets.list(filters={"label": label}):
        with contextlib.suppress(docker.errors.APIError):
            secret.remove()
    for volume in client.volumes.list(filters={"name": f"{PREFIX}-d"}):
        with contextlib.suppress(Exception):
            volume.remove(force=True)
    for network in client.networks.list(filters={"name": f"{PREFIX}-d"}):
        with contextlib.suppress(Exception):
            network.remove()


class World:
    """The portal and the people using it (made once Django is set up)."""

    def __init__(self, portal: Portal) -> None:
        from django.contrib.auth import get_user_model

        from deployments.services import tokens
        from tenancy import services as tenancy
        from tenancy.models import WorkspaceMembership

        self.portal = portal
        self.user = get_user_model().objects.create_user("bench@example.com", "bench@example.com", "a-long-bench-password-1")
        self.org = tenancy.organization_create(slug="bench", owner=self.user, name="Bench")
        self.workspace = tenancy.workspace_create(organization=self.org, name="Pipelines")
        self.token = tokens.token_create(organization=self.org, role=WorkspaceMembership.Role.OWNER, name="bench")[1]
        self._running: dict[int, object] = {}
        self.image_rollouts: dict[int, list[float]] = {}  # Airflow line -> activation to HEALTHY of image deploys

    def running(self, major: int):
        """The bench's running deployment of this Airflow line (brought up on first use)."""
        if major not in self._running:
            from .running import Running

            self._running[major] = Running(self, major)
        return self._running[major]

    def member_of(self, workspace):
        """A user who sees only `workspace`."""
        from django.contrib.auth import get_user_model

        from tenancy import services as tenancy
        from tenancy.models import WorkspaceMembership

        user = get_user_model().objects.create_user(f"member-{workspace.pk}@example.com", "m@example.com", "a-long-bench-password-2")
        tenancy.workspace_member_set(workspace=workspace, user=user, role=WorkspaceMembership.Role.MEMBER)
        return user

    def session_cookie(self, user) -> dict[str, str]:
        """A signed-in browser's session cookie for `user`."""
        from django.conf import settings
        from django.test import Client

        client = Client()
        client.force_login(user)
        return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}

    def api(self, method: str, path: str, **kwargs):
        import requests

        answer = requests.request(method, f"{self.portal.url}/api/v1{path}", headers={"Authorization": f"Bearer {self.token}"},
                                  timeout=120, **kwargs)
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json() if answer.content else None
