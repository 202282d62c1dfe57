"""Desired state of one deployment's data plane, as Swarm specs: its overlay network, its metadata
database and Celery broker, the database migration job, and one service per Airflow component of
its line (Airflow 2: webserver, scheduler, triggerer; Airflow 3: api-server, scheduler,
dag-processor, triggerer) plus one per worker queue, all from the deployment's image by digest."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings

from deployments.models import Deployment, component_resources, is_reserved_key
from deployments.selectors import runtime_environment

from . import swarm
from .autoscale import queue_workers
from .models import RuntimeCredentials
from .swarm import FileRef, ServiceSpec

AGENT_SOURCE = Path(__file__).parent / "agent" / "airdock_agent.py"
AGENT_PATH = "/airdock-agent.py"
# The agent's own modules, mounted beside it (Python finds them in the script's folder).
AGENT_MODULES = (Path(__file__).parent / "agent" / "airdock_agent_metrics.py",)
SCRATCH = "/opt/airdock"  # tmpfs: AIRFLOW_HOME (config, logs) and the DAG bundles
BUNDLE_ROOT = f"{SCRATCH}/dags"
API_PORT = 8080
AGENT_PROXY_PORT = 18080
DATA_COMPONENTS = ("db", "broker")


def prefix(deployment_id: int) -> str:
    return f"{settings.AIRDOCK_RUNTIME_NAME_PREFIX}-d{deployment_id}"


def portal_url() -> str:
    """Where agents reach the portal: the setting, or this machine on the swarm's gateway bridge."""
    if settings.AIRDOCK_RUNTIME_PORTAL_URL:
        return settings.AIRDOCK_RUNTIME_PORTAL_URL.rstrip("/")
    return f"http://{swarm.gateway_address()}:{settings.AIRDOCK_PORT}"


def ui_prefix(deployment_id: int) -> str:
    """The path under which the portal serves the deployment's Airflow UI, and Airflow serves it all."""
    return f"/deployments/{deployment_id}/airflow"


def owner_labels(deployment_id: int) -> dict[str, str]:
    """What marks a Swarm object as this portal's, for this deployment."""
    return {"io.airdock.instance": settings.AIRDOCK_RUNTIME_NAME_PREFIX, "io.airdock.deployment": str(deployment_id)}


def labels(deployment: Deployment, component: str = "") -> dict[str, str]:
    found = {**owner_labels(deployment.pk), "io.airdock.organization": deployment.workspace.organization.slug}
    if component:
        found["io.airdock.component"] = component
    return found


def airflow_components(major: int) -> dict[str, tuple[str, ...]]:
    """The long-running components of an Airflow line (workers come from the worker queues)."""
    if major >= 3:
        return {
            "api-server": ("airflow", "api-server", "--port", str(API_PORT)),
            "scheduler": ("airflow", "scheduler"),
            "dag-processor": ("airflow", "dag-processor"),
            "triggerer": ("airflow", "triggerer"),
        }
    return {
        "webserver": ("airflow", "webserver", "--port", str(API_PORT)),
        "scheduler": ("airflow", "scheduler"),
        "triggerer": ("airflow", "triggerer"),
    }


def worker_components(deployment: Deployment) -> dict[str, tuple[tuple[str, ...], int]]:
    """One service of Celery workers per queue, as many as the autoscaler asks for (none hibernating)."""
    return {
        f"worker-{queue['name']}": (
            ("airflow", "celery", "worker", "--queues", queue["name"], "--concurrency", str(queue["concurrency"])),
            0 if deployment.hibernating else queue_workers(deployment, queue),
        )
        for queue in deployment.worker_queues
    }


def secret_payloads(creds: RuntimeCredentials) -> dict[str, str]:
    db = f"airflow:{creds.db_password}@db:5432/airflow"
    return {
        "db_password": creds.db_password,
        "broker_password": creds.broker_password,
        "sql_alchemy_conn": f"postgresql+psycopg2://{db}",
        "result_backend": f"db+postgresql://{db}",
        "broker_url": f"redis://:{creds.broker_password}@broker:6379/0",
        "fernet_key": creds.fernet_key,
        "jwt_secret": creds.jwt_secret,
        "agent_token": creds.agent_token,
        "admin_password": creds.admin_password,
    }


def secret_name(deployment_id: int, purpose: str, value: str) -> str:
    """Swarm secrets cannot change: a new value gets a new name (the hash of the value)."""
    return f"{prefix(deployment_id)}-{purpose}-{hashlib.sha256(value.encode()).hexdigest()[:10]}"


def agent_configs() -> dict[str, tuple[Path, str]]:
    """The agent and its modules as Swarm configs: content-addressed name -> (source, path in the container)."""
    found = {}
    for source, target in ((AGENT_SOURCE, AGENT_PATH), *((m, f"/{m.name}") for m in AGENT_MODULES)):
        stem = source.stem.replace("_", "-")
        found[f"{stem}-{hashlib.sha256(source.read_bytes()).hexdigest()[:12]}"] = (source, target)
    return found


@dataclass
class DeploymentSpec:
    network: str
    data: list[ServiceSpec]
    migrate: ServiceSpec
    airflow: list[ServiceSpec]
    secrets: dict[str, str]  # name -> value

    @property
    def services(self) -> list[ServiceSpec]:
        return [*self.data, *self.airflow]


# How often unchanged DAG files are parsed again (a changed file, its modification time newer than
# its last parse, skips the wait; the agent keeps unchanged files' times). A pass over 200 files
# takes about 35 s on 2 cores: at 10 s the processor was always in a pass, and a deploy's changed
# file waited for its end (docs/benchmarks.md). Users may set the variable themselves. (At 120 s a
# long task on a draining Airflow 3.1 worker was run again: Airflow's own bug, apache/airflow#55004,
# made likelier by a less busy machine; README, "Known Airflow issue".)
UNCHANGED_FILES_PARSED_EVERY = "120"


def _airflow_env(deployment: Deployment, major: int, component: str, portal_url: str) -> dict[str, str]:
    dags = f"{BUNDLE_ROOT}/current" if deployment.desired_dag_bundle_version else "/usr/local/airflow/dags"
    env = {
        "AIRFLOW_HOME": f"{SCRATCH}/home",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": dags,
        "AIRFLOW__CORE__PLUGINS_FOLDER": "/usr/local/airflow/plugins",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow.utils.net.get_host_ip_address",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD": "cat /run/secrets/sql_alchemy_conn",
        "AIRFLOW__CELERY__BROKER_URL_CMD": "cat /run/secrets/broker_url",
        "AIRFLOW__CELERY__RESULT_BACKEND_CMD": "cat /run/secrets/result_backend",
        "AIRFLOW__CORE__FERNET_KEY_CMD": "cat /run/secrets/fernet_key",
        "AIRDOCK_PORTAL_URL": portal_url,
        "AIRDOCK_DEPLOYMENT_ID": str(deployment.pk),
        "AIRDOCK_COMPONENT": component,
        "AIRDOCK_TASK_ID": "{{.Task.ID}}",
        "AIRDOCK_BUNDLE_ROOT": BUNDLE_ROOT if deployment.desired_dag_bundle_version else "",
        "AIRDOCK_HEALTH_URL": "",
        "AIRDOCK_BROKER_STATS": "1" if component == "scheduler" else "",  # the queues' backlog, for the autoscaler
    }
    ui = ui_prefix(deployment.pk)  # Airflow serves everything under it: the portal passes the UI on as is
    if major >= 3:
        env.update({
            "AIRFLOW__API_AUTH__JWT_SECRET_CMD": "cat /run/secrets/jwt_secret",
            "AIRFLOW__API__SECRET_KEY_CMD": "cat /run/secrets/jwt_secret",
            "AIRFLOW__API__BASE_URL": f"{settings.AIRDOCK_PUBLIC_URL.rstrip('/')}{ui}",
            # Through the agent: a draining worker loses Swarm's DNS, the agent knows the API server's address.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{AGENT_PROXY_PORT}{ui}/execution/",
            "AIRDOCK_API_PROXY": f"api-server:{API_PORT}:{AGENT_PROXY_PORT}",
            # Only the deployment's own network reaches the API server; the portal's sign-in guards the UI.
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": UNCHANGED_FILES_PARSED_EVERY,
        })
        if component == "api-server":
            env["AIRDOCK_HEALTH_URL"] = f"http://127.0.0.1:{API_PORT}{ui}/api/v2/monitor/health"
    else:
        env.update({
            "AIRFLOW__WEBSERVER__SECRET_KEY_CMD": "cat /run/secrets/jwt_secret",
            "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.basic_auth",
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "3",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": UNCHANGED_FILES_PARSED_EVERY,
            "AIRFLOW__WEBSERVER__WORKERS": "2",
            "AIRFLOW__WEBSERVER__BASE_URL": f"{settings.AIRDOCK_PUBLIC_URL.rstrip('/')}{ui}",
            # Behind the portal's sign-in, whoever may see the deployment uses its UI as an admin.
            "AIRFLOW__WEBSERVER__AUTH_ROLE_PUBLIC": "Admin",
        })
        if component == "webserver":
            env["AIRDOCK_HEALTH_URL"] = f"http://127.0.0.1:{API_PORT}{ui}/health"
    return env


def desired(deployment: Deployment, creds: RuntimeCredentials, *, portal_url: str) -> DeploymentSpec:
    """The whole data plane of a deployment that has an image."""
    major = deployment.airflow_major or 3
    net = f"{prefix(deployment.pk)}-net"
    payloads = secret_payloads(creds)
    # The deployment's environment variables: plain ones in each service's environment, secret ones
    # in one Swarm secret that the agent hands to Airflow (never in the service spec).
    plain, secret = runtime_environment(deployment)
    plain = {key: value for key, value in plain.items() if not is_reserved_key(key)}
    payloads["env"] = json.dumps({key: value for key, value in secret.items() if not is_reserved_key(key)}, sort_keys=True)
    names = {purpose: secret_name(deployment.pk, purpose, value) for purpose, value in payloads.items()}
    image = f"{deployment.desired_image_repository}@{deployment.desired_image_digest}"

    def ref(purpose: str, mode: int = 0o400) -> FileRef:
        return FileRef(names[purpose], purpose, mode=mode)

    airflow_secrets = tuple(ref(p) for p in (
        "sql_alchemy_conn", "broker_url", "result_backend", "fernet_key", "jwt_secret", "agent_token", "admin_password", "env"))
    data_constraints = ("node.role==manager",)  # their volumes live on the manager
    awake = 0 if deployment.hibernating else 1
    data_resources = {**settings.AIRDOCK_RUNTIME_DATA_RESOURCES, "reserve": settings.AIRDOCK_RUNTIME_RESERVE}
    data = [
        ServiceSpec(
            name=f"{prefix(deployment.pk)}-db", image=settings.AIRDOCK_RUNTIME_SERVICES_IMAGE, command=("airdock-postgres",),
            labels=labels(deployment, "db"), user="postgres", network=net, aliases=("db",),
            secrets=(ref("db_password", mode=0o444),), volumes=((f"{prefix(deployment.pk)}-db", "/data"),),
            tmpfs=("/tmp",), start_first=False, constraints=data_constraints, replicas=awake, **data_resources,
        ),
        ServiceSpec(
            name=f"{prefix(deployment.pk)}-broker", image=settings.AIRDOCK_RUNTIME_SERVICES_IMAGE, command=("airdock-redis",),
            labels=labels(deployment, "broker"), user="redis", network=net, aliases=("broker",),
            secrets=(ref("broker_password", mode=0o444),), volumes=((f"{prefix(deployment.pk)}-broker", "/var/lib/redis"),),
            tmpfs=("/tmp",), start_first=False, constraints=data_constraints, replicas=awake, **data_resources,
        ),
    ]
    agent = tuple(FileRef(name, target, mode=0o444) for name, (_, target) in agent_configs().items())

    def component(name: str, command: tuple[str, ...], replicas: int = 1, grace: int = 60, aliases=()) -> ServiceSpec:
        limits = component_resources(deployment.resources, deployment.worker_queues, name)
        return ServiceSpec(
            name=f"{prefix(deployment.pk)}-{name}", image=image, command=("python", AGENT_PATH, "--", *command),
            # No deploy label: the task template would change with every deploy, and a DAG-only one restart them all.
            labels=labels(deployment, name),
            env={**_airflow_env(deployment, major, name, portal_url), **plain}, network=net, aliases=aliases,
            secrets=airflow_secrets, configs=agent, tmpfs=("/tmp", SCRATCH), replicas=replicas,
            stop_grace_seconds=grace, cpu=float(limits["cpu"]), memory=int(limits["memory"]),
            reserve=settings.AIRDOCK_RUNTIME_RESERVE,
        )

    airflow = [component(name, command, replicas=awake, aliases=(name,)) for name, command in airflow_components(major).items()]
    # The portal passes the UI on to the API server's container on its own machine (a manager).
    airflow = [replace(s, constraints=("node.role==manager",)) if s.labels["io.airdock.component"] in ("api-server", "webserver")
               else s for s in airflow]
    airflow += [
        component(name, command, replicas=replicas, grace=deployment.worker_grace_period)
        for name, (command, replicas) in worker_components(deployment).items()
    ]
    # The database may still be starting: wait for it (up to 2 minutes), then migrate.
    script = "for _ in $(seq 40); do airflow db check >/dev/null 2>&1 && break; sleep 3; done; airflow db migrate"
    if major < 3:  # Airflow 2's REST API takes its admin user (basic auth), made once; --password= since
        # a random password may start with "-", which argparse would take for an option
        script += (" && { airflow users list -o plain | grep -qw airdock || airflow users create -r Admin -u airdock"
                   " -e airdock@localhost -f Airdock -l Admin --password=\"$(cat /run/secrets/admin_password)\"; }")
    migrate = component("migrate", ("bash", "-c", script))
    migrate = replace(
        migrate, job=True, labels={**migrate.labels, "io.airdock.image": image},
        reserve=0.0,  # a one-off: nothing to hold for it (Swarm's constraint enforcer rejects job tasks under reservations)
        env={**migrate.env, "AIRDOCK_BUNDLE_ROOT": ""},  # migrations need no DAGs
    )
    return DeploymentSpec(network=net, data=data, migrate=migrate, airflow=airflow,
                          secrets={names[p]: v for p, v in payloads.items()})
