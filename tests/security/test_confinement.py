"""Containers that run tenant code (the DAG parse, the project's tests) are confined: the astro
user whatever the Dockerfile's last USER says, no capabilities, no new privileges, a read-only
root, bounded processes, no engine socket; and the JUnit report is read with defusedxml."""
import io
import json

import pytest

from deployments.models import Deploy
from deployments.selectors import deploy_log_text
from deployments.services import deploys
from deployments.services.deploys.steps.test import junit_summary
from tests import factories
from tests.projects import GOOD_DAG_3, make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db]

INSPECT = '''
import json, os
def _status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
def _writable(path):
    try:
        with open(path, "w") as fh:
            fh.write("x")
        return True
    except OSError:
        return False
print("AIRDOCK_CONFINED " + json.dumps({
    "uid": os.getuid(), "cap_eff": _status("CapEff"), "no_new_privs": _status("NoNewPrivs"),
    "root_writable": _writable("/usr/local/airflow/written-by-a-dag"), "etc_writable": _writable("/etc/passwd"),
    "tmp_writable": _writable("/tmp/scratch"), "docker_sock": os.path.exists("/var/run/docker.sock"),
    "pids_max": next((open(p).read().strip() for p in ("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max") if os.path.exists(p)), None),
}), flush=True)
'''


def test_checks_run_as_astro_without_privileges_whatever_the_dockerfile_says(alice, workspace, tmp_path):
    root = make_project(tmp_path / "p", dags={"example_dag.py": GOOD_DAG_3 + INSPECT})
    (root / "Dockerfile").write_text((root / "Dockerfile").read_text() + "USER root\n")  # the tenant's last word
    deployment = factories.DeploymentFactory(workspace=workspace)
    deploy = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(pack(root)))
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    line = next(t for t in deploy_log_text(deploy, step="PARSING").splitlines() if t.startswith("AIRDOCK_CONFINED"))
    found = json.loads(line.split(" ", 1)[1])
    assert found["uid"] == 50000
    assert found["cap_eff"] == "0000000000000000" and found["no_new_privs"] == "1"
    assert not found["root_writable"] and not found["etc_writable"] and found["tmp_writable"]
    assert not found["docker_sock"]
    assert found["pids_max"] == "512"


def test_a_junit_report_with_entities_is_not_expanded():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<testsuite><testcase classname="t" name="x"><failure message="&b;"/></testcase></testsuite>')
    summary = junit_summary(bomb)
    assert summary.get("unreadable") and summary["total"] == 0


def test_check_containers_run_on_the_engine_runtime_the_operator_names(settings):
    """AIRDOCK_CHECK_RUNTIME (e.g. runsc for gVisor) reaches the engine: a runtime it lacks is refused."""
    from deployments.integrations import containers, engine

    settings.AIRDOCK_CHECK_RUNTIME = "airdock-no-such-runtime"
    with pytest.raises(engine.CheckError, match="(?i)runtime"):
        containers.container_run(image=settings.AIRDOCK_RUNTIME_BASE_IMAGE, command=["true"], step="DAG parse",
                             files_at="/work", timeout=30, memory=256 * 1024**2, on_line=lambda line: None)
