"""A running deployment of the bench's, per Airflow line, brought up once per bench run and shared
by the cases that need Airflow running; and how to ask it things through the portal."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import requests

from .projects import make_project, pack

ACTIVE = ("QUEUED", "UNPACKING", "BUILDING", "PARSING", "TESTING", "PUSHING", "UPLOADING_DAGS", "ACTIVATING")


def wait(condition, *, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


class Running:
    """A running deployment of the bench's, and how to ask it things through the portal."""

    def __init__(self, world, major: int) -> None:
        from deployments.services import deployments

        self.world, self.major = world, major
        name = f"af{major}"
        root = make_project(Path(tempfile.mkdtemp(prefix="airdock-bench-")) / name, dags=10, major=major, version="0")
        self.root = root
        self.deployment = deployments.deployment_create(
            workspace=world.workspace, name=name, dag_deploy_enabled=True,
            worker_queues=[{"name": "default", "min_workers": 1, "max_workers": 1, "concurrency": 5}])
        self.id = self.deployment.pk
        self.session = requests.Session()
        self.session.cookies.update(world.session_cookie(world.user))
        started = time.monotonic()
        first = world.api("POST", f"/deployments/{self.id}/deploys", files={"archive": ("p.tar.gz", pack(root))})
        self.ended(first["id"], timeout=900)
        self.healthy()
        self.first_healthy = time.monotonic() - started

    def healthy(self, timeout: float = 900) -> None:
        wait(lambda: self.world.api("GET", f"/deployments/{self.id}")["status"] == "HEALTHY", timeout=timeout, what="HEALTHY", every=0.5)

    def ended(self, deploy_id: int, timeout: float = 600) -> dict:
        deploy = wait(lambda: (d := self.world.api("GET", f"/deploys/{deploy_id}"))["state"] not in ACTIVE and d,
            timeout=timeout, what=f"deploy {deploy_id} to end", every=0.2)
        if deploy["state"] != "SUCCEEDED":
            raise RuntimeError(f"deploy {deploy_id} {deploy['state']}: {deploy.get('error')}")
        return deploy

    def serving_bundles(self) -> set[str]:
        components = self.world.api("GET", f"/deployments/{self.id}")["components"]
        return {c["running_dag_bundle_version"] for c in components
                if c["name"] not in ("db", "broker") and c["state"] not in ("draining", "stopped")}

    def _airflow(self, path: str) -> requests.Response | None:
        """GET Airflow 3's API through the portal (None until it hands out a token)."""
        base = f"{self.world.portal.url}/deployments/{self.id}/airflow"
        token = self.session.get(f"{base}/auth/token", timeout=10)
        if not token.ok:  # Airflow 3 answers 201 with the token
            return None
        return self.session.get(f"{base}{path}", timeout=10, headers={"Authorization": f"Bearer {token.json()['access_token']}"})

    def dag_visible(self, dag_id: str) -> bool:
        answer = self._airflow(f"/api/v2/dags/{dag_id}")
        return answer is not None and answer.status_code == 200

    def dag_ids(self) -> set[str]:
        found: set[str] = set()
        while (answer := self._airflow(f"/api/v2/dags?limit=100&offset={len(found)}")) is not None and answer.ok:
            page = {d["dag_id"] for d in answer.json()["dags"]}  # Airflow answers 100 at most
            if not page - found:
                break
            found |= page
        return found


