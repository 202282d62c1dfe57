"""`airdock deployment list|inspect|create|update|delete|hibernate|wake-up` against the portal's
real API (a live server): a deployment as code round-trips through YAML, secrets stay redacted
and kept, a bad file changes nothing."""
import pytest
import yaml

from airdock_cli import main as cli
from deployments.models import Deployment, EnvironmentVariable
from deployments.services import variables
from tests.api.conftest import Role, make_token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def airdock(live_server, monkeypatch, org, deployment, capsys):
    monkeypatch.setenv("AIRDOCK_URL", live_server.url)
    monkeypatch.setenv("AIRDOCK_API_TOKEN", make_token(org, Role.OWNER))

    def run(*argv):
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def test_a_deployment_round_trips_through_yaml(airdock, deployment, tmp_path):
    variables.variable_set(deployment=deployment, key="DB_PASSWORD", value="s3cr3t", is_secret=True)
    variables.variable_set(deployment=deployment, key="REGION", value="eu", is_secret=False)
    code, out, _ = airdock("deployment", "inspect", "--deployment-id", str(deployment.pk), "--output", "yaml")
    assert code == 0 and "s3cr3t" not in out
    document = yaml.safe_load(out)
    assert document["deployment"]["environment_variables"] == [
        {"key": "DB_PASSWORD", "value": None, "is_secret": True}, {"key": "REGION", "value": "eu", "is_secret": False}]

    edited = document["deployment"]
    edited["configuration"]["description"] = "nightly ETL"
    edited["worker_queues"].append({"name": "heavy", "min_workers": 0, "max_workers": 2, "concurrency": 1, "memory": 4096})
    edited["resources"] = {"scheduler": {"cpu": 2, "memory": 4096}}
    edited["hibernation_schedules"] = [{"hibernate_at": "0 20 * * 1-5", "wake_at": "0 6 * * 1-5"}]
    edited["environment_variables"].append({"key": "TEAM", "value": "data", "is_secret": False})
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    code, out, err = airdock("deployment", "update", "--deployment-id", str(deployment.pk), "--file", str(path))
    assert code == 0, err
    assert "updated" in out

    code, again, _ = airdock("deployment", "inspect", "--deployment-id", str(deployment.pk))
    reread = yaml.safe_load(again)["deployment"]
    for section in ("configuration", "worker_queues", "resources", "hibernation_schedules", "environment_variables"):
        assert reread[section] == edited[section], section
    assert EnvironmentVariable.objects.get(deployment=deployment, key="DB_PASSWORD").value == "s3cr3t"  # kept

    code, queues, _ = airdock("deployment", "inspect", "--deployment-id", str(deployment.pk), "--key", "deployment.worker_queues",
                              "--output", "json")
    assert code == 0 and '"heavy"' in queues

    edited["configuration"]["name"] = "etl-copy"
    edited["environment_variables"] = [v for v in edited["environment_variables"] if not v["is_secret"]]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    code, out, err = airdock("deployment", "create", "--workspace-id", str(deployment.workspace_id), "--file", str(path))
    assert code == 0, err
    copy = Deployment.objects.get(name="etl-copy")
    assert copy.resources == {"scheduler": {"cpu": 2, "memory": 4096}} and len(copy.worker_queues) == 2
    code, out, _ = airdock("deployment", "list")
    assert code == 0 and "etl-copy" in out and "etl " in out
    code, out, _ = airdock("deployment", "delete", "--deployment-id", str(copy.pk), "--force")
    assert code == 0 and not Deployment.objects.filter(pk=copy.pk).exists()


def test_a_bad_file_changes_nothing_and_says_what_to_fix(airdock, deployment, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"deployment": {
        "configuration": {"description": "changed"},
        "worker_queues": [{"name": "default", "min_workers": 5, "max_workers": 2, "concurrency": 5}]}}))
    code, _, err = airdock("deployment", "update", "--deployment-id", str(deployment.pk), "--file", str(path))
    assert code == 2 and "min_workers (5) is above max_workers (2)" in err
    assert Deployment.objects.get(pk=deployment.pk).description == ""
    path.write_text("deployment:\n  configuraton: {}\n")
    code, _, err = airdock("deployment", "update", "--deployment-id", str(deployment.pk), "--file", str(path))
    assert code == 2 and "Unknown section(s) under deployment: configuraton" in err
    path.write_text("deployment: [unclosed")
    code, _, err = airdock("deployment", "update", "--deployment-id", str(deployment.pk), "--file", str(path))
    assert code == 2 and "is not valid YAML" in err
    path.write_text(yaml.safe_dump({"deployment": {"environment_variables": [{"key": "NEW_SECRET", "value": None, "is_secret": True}]}}))
    code, _, err = airdock("deployment", "update", "--deployment-id", str(deployment.pk), "--file", str(path))
    assert code == 2 and "a new secret needs its value" in err


def test_hibernate_and_wake_up_from_the_cli(airdock, deployment):
    code, out, _ = airdock("deployment", "hibernate", "--deployment-id", str(deployment.pk))
    assert code == 0 and "HIBERNATING" in out
    code, _, err = airdock("deployment", "hibernate", "--deployment-id", str(deployment.pk))
    assert code == 2 and "already hibernating" in err
    code, out, _ = airdock("deployment", "wake-up", "--deployment-id", str(deployment.pk))
    assert code == 0 and "wakes up" in out
    code, _, err = airdock("deployment", "delete", "--deployment-id", str(deployment.pk))
    assert code == 2 and "add --force" in err  # no terminal to confirm on


def test_logs_show_the_latest_lines_and_follow_new_ones(airdock, deployment, monkeypatch):
    from airdock_cli import logs as cli_logs
    from deployments.services.component_logs import log_lines_store

    log_lines_store(deployment=deployment, component="scheduler", task_id="t1", lines=[[None, "Starting the scheduler"]])
    log_lines_store(deployment=deployment, component="api-server", task_id="t2", lines=[[None, "GET /health 200"]])
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 1:
            log_lines_store(deployment=deployment, component="scheduler", task_id="t1", lines=[[None, "a new run"]])
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli_logs.time, "sleep", sleep)
    code, out, _ = airdock("deployment", "logs", "--deployment-id", str(deployment.pk), "--component", "scheduler", "--follow")
    assert code == 130  # stopped with Ctrl-C
    lines = out.splitlines()
    assert [line.split(" ", 2)[1:] for line in lines] == [["scheduler", "Starting the scheduler"], ["scheduler", "a new run"]]
