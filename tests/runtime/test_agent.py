"""The agent as a process, against the portal's real agent endpoints (a live server): it runs its
command, copies the command's output to the container's log and ships it to the portal with the
deployment's secret values masked in both, and reports how the command ended."""
import json
import subprocess
import sys

import pytest

from deployments.models import ComponentLogLine
from runtime import spec
from runtime.models import ComponentReport, RuntimeCredentials

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_agent_ships_its_commands_output_masked_and_reports_its_end(live_server, deployment, tmp_path):
    creds = RuntimeCredentials.objects.create(deployment=deployment)
    (tmp_path / "agent_token").write_text(creds.agent_token)
    (tmp_path / "env").write_text(json.dumps({"DB_PASSWORD": "hunter2-secret"}))
    env = {"PATH": "/usr/bin:/bin", "AIRDOCK_PORTAL_URL": live_server.url, "AIRDOCK_DEPLOYMENT_ID": str(deployment.pk),
           "AIRDOCK_COMPONENT": "scheduler", "AIRDOCK_TASK_ID": "task-1", "AIRDOCK_SECRETS_DIR": str(tmp_path)}
    script = "import os; print('hello'); print('connecting with ' + os.environ['DB_PASSWORD']); raise SystemExit(3)"
    done = subprocess.run([sys.executable, str(spec.AGENT_SOURCE), "--", sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 3
    assert "connecting with ***" in done.stdout and "hunter2-secret" not in done.stdout + done.stderr
    shipped = list(ComponentLogLine.objects.filter(deployment=deployment).values_list("component", "task_id", "text"))
    assert shipped[:2] == [("scheduler", "task-1", "hello"), ("scheduler", "task-1", "connecting with ***")]
    assert any("exited with 3" in text for _, _, text in shipped)
    report = ComponentReport.objects.get(deployment=deployment, task_id="task-1")
    assert report.process == "exited" and "exited with 3" in report.message
    assert "memory_bytes" in report.metrics or report.metrics.get("oom_kills") == 0
