"""What the runtime scenarios check a deployment with: its status and components as the data plane
reports them, its containers, the dashboard, Swarm time stamps, and the `airdock` CLI run while the
test is the portal's worker."""
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import django_rq
import docker
from django.test import Client
from rq import SimpleWorker

from deployments.models import Deployment
from runtime import spec, swarm
from runtime.jobs import observe_all

from .conftest import PREFIX

DATA = ("db", "broker")


def api(lines, deployment_id: int, path: str = "") -> dict | list:
    """The deployment (or one of its sub-resources) as the API answers alice's organization token."""
    answer = Client().get(f"/api/v1/deployments/{deployment_id}{path}", HTTP_AUTHORIZATION=f"Bearer {lines.token}")
    assert answer.status_code == 200, answer.content
    return answer.json()


def line(lines, major: int):
    return getattr(lines, f"af{major}")


def healthy_on(digest: str, bundle: str = ""):
    return lambda d: d.status == Deployment.Status.HEALTHY and all(
        c["running_image_digest"] == digest and (not bundle or c["running_dag_bundle_version"] == bundle)
        for c in d.runtime_components if c["name"] not in DATA and c["state"] not in ("draining", "stopped"))


def serving(answer: dict) -> list[dict]:
    """The Airflow components of an API answer that serve (old workers finishing their tasks aside)."""
    return [c for c in answer["components"] if c["name"] not in DATA and c["state"] not in ("draining", "stopped")]


def container_ip(container) -> str:
    out = container.exec_run(["python", "-c", "import socket; print(socket.gethostbyname(socket.getfqdn()))"])
    return out.output.decode().strip()


def gateway_addresses(deployment_id: int, components=DATA) -> list[str]:
    """Where another deployment's containers sit on the gateway bridge of this machine."""
    containers = docker.from_env().networks.get("docker_gwbridge").attrs.get("Containers") or {}
    ours = {t["container"] for name in components for t in swarm.service_tasks(f"{spec.prefix(deployment_id)}-{name}")}
    return sorted(entry["IPv4Address"].split("/")[0] for cid, entry in containers.items() if cid in ours)


def seconds(stamp: str) -> float:
    """An Airflow or Swarm time stamp (RFC 3339, nanoseconds or not) as seconds since the epoch."""
    stamp = re.sub(r"(\.\d{1,6})\d*", r"\1", stamp).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp()


def dashboard_row(browser: Client, deployment_id: int) -> str:
    page = browser.get("/").content.decode()
    start = page.index(f'id="deployment-{deployment_id}"')
    return page[start:page.index("</tr>", start)]


def rolled_out(deployment_id: int) -> bool:
    """Every service of the deployment has finished its rolling update (or never needed one)."""
    return all(s.attrs.get("UpdateStatus", {}).get("State", "completed") == "completed"
               for s in swarm.services_list({"io.airdock.instance": PREFIX, "io.airdock.deployment": str(deployment_id)}))


def work_while(process: subprocess.Popen) -> None:
    """Be the RQ worker (deploys, then the reconcile jobs) and the runtime watcher, in this thread
    (the main one), until the CLI process ends."""
    queues = [django_rq.get_queue("deploys"), django_rq.get_queue("default")]
    worker = SimpleWorker(queues, connection=queues[0].connection)
    while process.poll() is None:
        worker.work(burst=True)
        observe_all()
        time.sleep(1)


def cli(*args: str, lines, work: bool = True) -> subprocess.CompletedProcess:
    """Run `airdock` as CI would, while this test is the portal's worker (`work`: for commands that
    queue jobs, such as a deploy)."""
    env = {**os.environ, "AIRDOCK_URL": lines.portal.url, "AIRDOCK_API_TOKEN": lines.token}
    process = subprocess.Popen([str(Path(sys.executable).with_name("airdock")), *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if work:
        work_while(process)
    out, err = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)
