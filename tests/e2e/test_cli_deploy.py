"""The airdock CLI end to end: a live server, a real RQ worker, the real services, and the runtime:
`airdock deploy --wait` returns once the deployment is HEALTHY on the new image and DAG bundle."""
import os
import subprocess
import sys
import time
from pathlib import Path

import django_rq
import pytest
from rq import SimpleWorker

from deployments.models import Deploy, Deployment
from deployments.services import tokens
from runtime.jobs import observe_all
from tenancy.models import WorkspaceMembership
from tests.projects import BROKEN_DAG, make_project

pytestmark = [pytest.mark.services]
Role = WorkspaceMembership.Role
ROOT = Path(__file__).resolve().parents[2]


def airdock(*args, url, token, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "AIRDOCK_URL": url, "AIRDOCK_API_TOKEN": token}
    return subprocess.run([str(Path(sys.executable).with_name("airdock")), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def work_while(process: subprocess.Popen) -> None:
    """Be the RQ worker (deploys, then the reconcile jobs) and the runtime watcher, in this thread
    (the main one), until the CLI process ends."""
    queues = [django_rq.get_queue("deploys"), django_rq.get_queue("default")]
    worker = SimpleWorker(queues, connection=queues[0].connection)
    while process.poll() is None:
        worker.work(burst=True)
        observe_all()
        time.sleep(1)


@pytest.mark.django_db(transaction=True)
def test_the_cli_deploys_a_project_end_to_end_and_fails_ci_on_a_failed_deploy(agent_portal, torn_down, org, workspace, deployment, tmp_path):
    live_server = agent_portal
    torn_down.append(deployment.pk)
    django_rq.get_queue("deploys").empty()
    django_rq.get_queue("default").empty()
    raw = tokens.token_create(organization=org, role=Role.AUTHOR, workspace=workspace, name="ci")[1]
    project = make_project(tmp_path / "project")
    (project / ".dockerignore").write_text((project / ".dockerignore").read_text() + "secret-notes.txt\n")
    (project / "secret-notes.txt").write_text("never upload me")
    env = {**os.environ, "AIRDOCK_URL": live_server.url, "AIRDOCK_API_TOKEN": raw}
    cli = str(Path(sys.executable).with_name("airdock"))
    ok = subprocess.Popen([cli, "deploy", str(project), "--deployment-id", str(deployment.pk), "--wait", "--description", "from CI"],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    work_while(ok)
    out, err = ok.communicate()
    assert ok.returncode == 0, out + err
    assert "build triggers" in out and "succeeded" in out
    assert f"Deployment {deployment.name} is HEALTHY on deploy" in out  # --wait: until it really runs
    assert Deployment.objects.get(pk=deployment.pk).status == Deployment.Status.HEALTHY
    deploy = Deploy.objects.latest("pk")
    assert deploy.state == Deploy.State.SUCCEEDED and deploy.description == "from CI"
    assert "secret-notes.txt" not in "\n".join(deploy.log_lines.values_list("text", flat=True))
    (project / "dags" / "broken.py").write_text(BROKEN_DAG)
    bad = subprocess.Popen([cli, "deploy", str(project), "--deployment-id", str(deployment.pk), "--wait"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    work_while(bad)
    out, err = bad.communicate()
    assert bad.returncode == 1, out + err
    assert "failed" in err and "dags/broken.py line 4" in err
    listing = airdock("deploys", "list", "--deployment-id", str(deployment.pk), url=live_server.url, token=raw)
    assert listing.returncode == 0 and "SUCCEEDED" in listing.stdout and "FAILED" in listing.stdout
    refused = airdock("deploy", str(project), "--deployment-id", str(deployment.pk), url=live_server.url, token="adk_wrong")
    assert refused.returncode == 2 and "401" in refused.stderr
