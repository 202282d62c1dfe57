"""Tenant code is contained: a project's Dockerfile RUN, a package's setup.py, its DAGs and its
tests try Airdock's own services on loopback and on every address of this machine, and every try
fails; the same build still installs from the package index. Without credentials the services
refuse anyway."""
import io
import json
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings

from deployments.models import Deploy
from deployments.selectors import deploy_log_text
from deployments.services import deploys
from tests import factories
from tests.projects import GOOD_DAG_3, make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db]
PROBE = (Path(__file__).parent / "probe.py").read_text()


def host_addresses() -> list[str]:
    """Loopback and every IPv4 address of this machine (its own addresses only)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout
    return sorted({line.split()[3].split("/")[0] for line in out.splitlines()} | {"127.0.0.1"})


def probes(log: str) -> list[dict]:
    return [json.loads(line.split("AIRDOCK_PROBE ", 1)[1]) for line in log.splitlines() if "AIRDOCK_PROBE {" in line]


def assert_contained(results: dict) -> None:
    assert results["docker.sock"] is False
    reached = {k: v for k, v in results.items() if isinstance(v, str) and v.startswith("open")}
    assert not reached, f"tenant code reached: {reached}"


def test_builds_checks_and_packages_reach_none_of_airdocks_services(alice, workspace, tmp_path):
    hosts = json.dumps(host_addresses())
    dag = GOOD_DAG_3 + f"\nimport include.probe\ninclude.probe.main({hosts})\n"
    root = make_project(
        tmp_path / "p", dags={"example_dag.py": dag}, requirements="six==1.16.0\n",
        tests={"test_probe.py": (  # pytest captures output: the tenant's test itself asserts it reached nothing
            f"import include.probe\n\ndef test_probe():\n    results = include.probe.main({hosts})\n"
            "    assert not results['docker.sock']\n"
            "    assert not [k for k, v in results.items() if str(v).startswith('open')]\n"
        )},
        extra={
            "include/probe.py": PROBE,
            "include/nonce.txt": str(uuid.uuid4()),  # a fresh project layer: the probing RUN steps run again
            "probe_pkg/setup.py": PROBE.replace('if __name__ == "__main__":', "if True:").replace(
                "json.loads(sys.argv[1]) if len(sys.argv) > 1 else ", "") + "\nfrom setuptools import setup\nsetup(name='probe-pkg', version='1.0')\n",
        },
    )
    (root / "Dockerfile").write_text(
        (root / "Dockerfile").read_text()
        + f"RUN python /usr/local/airflow/include/probe.py '{hosts}'\n"
        + "RUN pip install --no-cache-dir --quiet ./probe_pkg -v 2>&1 | grep AIRDOCK_PROBE || true\n"
    )
    (root / "probe_pkg" / "setup.py").write_text(
        f"import os\nos.environ['AIRDOCK_PROBE_HOSTS'] = {hosts!r}\n" + (root / "probe_pkg" / "setup.py").read_text()
    )
    deployment = factories.DeploymentFactory(workspace=workspace, dag_deploy_enabled=False)
    deploy = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(pack(root)), run_pytest=True)
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error  # six came from the package index
    log = deploy_log_text(deploy)
    by_step = {step: probes(deploy_log_text(deploy, step=step))
               for step in ("BUILDING", "PARSING")}
    building = deploy_log_text(deploy, step="BUILDING")
    assert len(by_step["BUILDING"]) >= 2, building[-4000:]
    assert by_step["PARSING"], log[-3000:]
    assert deploy.test_results["passed"] == 1 and deploy.test_results["failed"] == 0  # the probe in tests/
    for found in by_step.values():
        for results in found:
            assert_contained(results)
            assert all(f"redis {h}" in results for h in host_addresses())


def test_airdocks_services_refuse_callers_without_credentials():
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=6379).ping()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://{settings.AIRDOCK_REGISTRY}/v2/_catalog", timeout=5)
    assert refused.value.code == 401
    assert settings.AIRDOCK_BUILD_NETWORK != "host"
