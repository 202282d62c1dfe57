"""Helpers of the runtime tests: deploy a project for real, talk to a deployment's Airflow through
its own REST API (from inside its API server's container: nothing of it is published), list its
containers."""
import io
import json
import time

import docker
import docker.errors

from deployments.models import Deploy
from deployments.services import deploys
from runtime import spec
from tests.projects import pack

# Airflow 3 runs on 3.2: Airflow 3.0 and 3.1 may restart a task that started in the instant its
# scheduler processed the task's queued event, once a new scheduler takes over (apache/airflow#55004,
# fixed in 3.2.2); test_scenarios' draining worker met it (README, "Known Airflow issue").
LINES = {  # Airflow line -> (Runtime line of tests.projects, REST API prefix, the API server component)
    3: ("3.2", "/api/v2", "api-server"),
    2: ("2.10", "/api/v1", "webserver"),
}


def deploy(deployment, user, root, kind=Deploy.Kind.IMAGE_AND_DAGS) -> Deploy:
    made = deploys.deploy_create(deployment=deployment, user=user, archive=io.BytesIO(pack(root)), kind=kind)
    deploys.deploy_execute(deploy_id=made.pk)
    made.refresh_from_db()
    assert made.state == Deploy.State.SUCCEEDED, made.error
    return made


def service_containers(deployment_id: int, component: str = "") -> list:
    """The deployment's running containers (of one component), newest first. Sparse: a container that
    goes away while it is listed is simply not there (no inspect per container)."""
    labels = ["io.airdock.instance=airdocktest", f"io.airdock.deployment={deployment_id}"]
    if component:
        labels.append(f"io.airdock.component={component}")
    found = docker.from_env().containers.list(sparse=True, filters={"label": labels, "status": "running"})
    return sorted(found, key=lambda c: c.attrs.get("Created", 0), reverse=True)


def airflow_api(deployment_id: int, major: int, method: str, path: str, body: dict | None = None) -> dict:
    """Call Airflow's REST API; Airflow 3's simple auth manager hands out a token on the deployment's network."""
    _, api, server = LINES[major]
    prefix = spec.ui_prefix(deployment_id) + api  # Airflow serves everything under the portal's UI path
    token = (f"token = json.load(urllib.request.urlopen('http://127.0.0.1:8080{spec.ui_prefix(deployment_id)}/auth/token', "
             "timeout=30))['access_token']\n"
             "headers['Authorization'] = 'Bearer ' + token\n") if major >= 3 else (  # Airflow 2: its admin user
        "import base64\npassword = open('/run/secrets/admin_password').read().strip()\n"
        "headers['Authorization'] = 'Basic ' + base64.b64encode(('airdock:' + password).encode()).decode()\n")
    script = (
        "import json, urllib.request\nheaders = {'Content-Type': 'application/json'}\n" + token
        + f"req = urllib.request.Request('http://127.0.0.1:8080{prefix}{path}', method={method!r}, "
        f"data={json.dumps(body).encode() if body is not None else None!r}, headers=headers)\n"
        "print(urllib.request.urlopen(req, timeout=30).read().decode())\n"
    )
    result = None
    for _ in range(24):  # during a rollout an API server may be starting or stopping: ask each, again
        for container in service_containers(deployment_id, server):
            try:
                result = container.exec_run(["python", "-c", script])
            except docker.errors.APIError:
                continue
            if result.exit_code == 0:
                return json.loads(result.output)
            if b"urllib.error.HTTPError: HTTP Error 4" in result.output:  # Airflow's answer, not a restart
                raise AssertionError(result.output.decode()[-2000:])
        time.sleep(5)
    raise AssertionError(result.output.decode()[-2000:] if result else f"no {server} container to ask")


def trigger(deployment_id: int, major: int, dag_id: str, conf: dict | None = None) -> dict:
    """Unpause a DAG and start a run of it (with `conf`)."""
    airflow_api(deployment_id, major, "PATCH", f"/dags/{dag_id}", {"is_paused": False})
    body = {"logical_date": None} if major >= 3 else {}
    return airflow_api(deployment_id, major, "POST", f"/dags/{dag_id}/dagRuns", {**body, "conf": conf or {}})


def run_dag(deployment_id: int, major: int, dag_id: str, timeout: float = 240, conf: dict | None = None) -> dict:
    """Unpause and trigger a DAG; wait for its run to finish; return the run."""
    run = trigger(deployment_id, major, dag_id, conf)
    deadline = time.monotonic() + timeout
    while (run := airflow_api(deployment_id, major, "GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}"))["state"] not in ("success", "failed"):
        assert time.monotonic() < deadline, f"the DAG run is still {run['state']}"
        time.sleep(3)
    return run


def wait_for_dag(deployment_id: int, major: int, dag_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            assert airflow_api(deployment_id, major, "GET", f"/dags/{dag_id}")["dag_id"] == dag_id
            return
        except AssertionError:
            assert time.monotonic() < deadline, f"{dag_id} never appeared in Airflow"
            time.sleep(3)


def task_instances(deployment_id: int, major: int, dag_id: str, run_id: str) -> list[dict]:
    return airflow_api(deployment_id, major, "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]


def xcom(deployment_id: int, major: int, dag_id: str, run_id: str, task_id: str):
    """A task's return value, as Airflow's API gives it back (a string: JSON-decoded here)."""
    entry = airflow_api(deployment_id, major, "GET",
                        f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")
    value = entry["value"]
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # a plain string


def task_log(deployment_id: int, major: int, dag_id: str, run_id: str, ti: dict, *, tail: int | None = 1500) -> str:
    """A task instance's log as Airflow's API serves it: its end (for a failing test's message), or
    all of it (`tail=None`; Airflow 3.2 writes each line with its logger, file and line number)."""
    query = f"?map_index={ti['map_index']}" if ti.get("map_index", -1) >= 0 else ""
    try:
        found = airflow_api(deployment_id, major, "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/"
                            f"{ti['task_id']}/logs/{max(ti.get('try_number') or 1, 1)}{query}")
    except AssertionError as exc:
        return f"(no log: {exc})"[-500:]
    text = str(found.get("content", found))
    return text if tail is None else text[-tail:]
