"""Docker Swarm, through the docker SDK's services API: networks, secrets, configs, services and
one-off jobs. Keys and plain data in, plain data out; it knows nothing of deployments.

Services use DNS round-robin endpoints (`dnsrr`): a deployment's components find each other by
name on their own overlay network without Swarm's virtual IPs (IPVS), which some hosts lack."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import docker
import docker.errors
from docker.types import (
    ConfigReference,
    ContainerSpec,
    DriverConfig,
    EndpointSpec,
    Mount,
    NetworkAttachmentConfig,
    Placement,
    Resources,
    RestartPolicy,
    SecretReference,
    ServiceMode,
    TaskTemplate,
    UpdateConfig,
)

from deployments.integrations import engine

SPEC_LABEL = "io.airdock.spec"


class SwarmError(Exception):
    """The engine cannot do what the data plane asks (not a swarm manager, a refused spec, ...)."""


@dataclass(frozen=True)
class FileRef:
    """A Swarm secret or config mounted as a file in /run/secrets (secrets) or at `target` (configs)."""
    name: str
    target: str
    uid: str = "50000"
    gid: str = "0"
    mode: int = 0o400


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str
    command: tuple[str, ...]
    labels: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    user: str = "50000:0"
    replicas: int = 1
    network: str = ""
    aliases: tuple[str, ...] = ()
    secrets: tuple[FileRef, ...] = ()
    configs: tuple[FileRef, ...] = ()
    volumes: tuple[tuple[str, str], ...] = ()  # (volume name, target)
    tmpfs: tuple[str, ...] = ()
    read_only: bool = True
    stop_grace_seconds: int = 60
    start_first: bool = True
    constraints: tuple[str, ...] = ()
    cpu: float | None = None  # cores: a limit
    memory: int | None = None  # MiB: a limit (the kernel kills a process of the container above it)
    reserve: float = 0.0  # of the limits, the share Swarm reserves on the machine it places a task on
    pids: int = 4096
    job: bool = False  # run to completion once (replicated-job), never restarted

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _client() -> docker.DockerClient:
    return engine.client()


def swarm_check() -> None:
    try:
        state = _client().info().get("Swarm", {})
    except docker.errors.DockerException as exc:
        raise SwarmError(f"The Docker engine does not answer: {exc}") from exc
    if state.get("LocalNodeState") != "active" or not state.get("ControlAvailable"):
        raise SwarmError("The Docker engine is not a swarm manager; `make services` makes it one "
                         "(docker swarm init --advertise-addr <this machine's address>).")


def _swarm_network(client: docker.DockerClient, name: str) -> str:
    """The id of the swarm's network of exactly this name, or "" (the engine may still list a local
    copy of one just removed from the swarm: that one does not count)."""
    for network in client.networks.list(names=[name]):
        if network.name != name:
            continue  # the filter matches parts of names
        try:
            client.api.inspect_network(network.id, scope="swarm")
        except docker.errors.NotFound:
            continue
        return network.id
    return ""


def network_ensure(name: str, labels: dict) -> None:
    client = _client()
    if _swarm_network(client, name):
        return
    try:
        client.networks.create(name, driver="overlay", attachable=False, labels=labels, scope="swarm")
    except docker.errors.APIError as exc:
        if "already exists" not in str(exc):
            raise SwarmError(f"Cannot make the network {name}: {exc.explanation or exc}") from exc


def network_remove(name: str) -> None:
    for network in _client().networks.list(names=[name]):
        try:
            network.remove()
        except docker.errors.APIError:
            pass  # still in use by a task that is stopping: the next pass removes it


def _object_ensure(kind: str, name: str, data: bytes, labels: dict) -> None:
    collection = getattr(_client(), kind)
    if collection.list(filters={"name": name}):
        return  # content-addressed names: an existing one holds the same data
    try:
        collection.create(name=name, data=data, labels=labels)
    except docker.errors.APIError as exc:
        if "already exists" not in str(exc):
            raise SwarmError(f"Cannot store {kind[:-1]} {name}: {exc.explanation or exc}") from exc


def secret_ensure(name: str, data: bytes, labels: dict) -> None:
    _object_ensure("secrets", name, data, labels)


def config_ensure(name: str, data: bytes, labels: dict) -> None:
    _object_ensure("configs", name, data, labels)


def objects_prune(kind: str, labels: dict, keep: set[str]) -> None:
    """Remove the secrets or configs with these labels that no spec names any more (in use: kept)."""
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    for item in getattr(_client(), kind).list(filters=filters):
        if item.name not in keep:
            try:
                item.remove()
            except docker.errors.APIError:
                pass  # a stopping task still uses it


def _refs(client: docker.DockerClient, kind: str, refs: tuple[FileRef, ...]) -> list:
    out = []
    for ref in refs:
        found = getattr(client, kind).list(filters={"name": ref.name})
        match = next((item for item in found if item.name == ref.name), None)
        if match is None:
            raise SwarmError(f"The {kind[:-1]} {ref.name} is missing.")
        cls = SecretReference if kind == "secrets" else ConfigReference
        out.append(cls(match.id, ref.name, filename=ref.target, uid=ref.uid, gid=ref.gid, mode=ref.mode))
    return out


def _template(client: docker.DockerClient, spec: ServiceSpec) -> TaskTemplate:
    mounts = [Mount(target, source, type="volume") for source, target in spec.volumes]
    mounts += [Mount(target, None, type="tmpfs") for target in spec.tmpfs]  # the engine makes them 1777
    container = ContainerSpec(
        spec.image, command=list(spec.command), env=[f"{k}={v}" for k, v in sorted(spec.env.items())],
        user=spec.user, labels=spec.labels, mounts=mounts, read_only=spec.read_only,
        secrets=_refs(client, "secrets", spec.secrets), configs=_refs(client, "configs", spec.configs),
        stop_grace_period=spec.stop_grace_seconds * 1_000_000_000, cap_drop=["ALL"],
    )
    limits = {"cpu_limit": int(spec.cpu * 1e9) if spec.cpu else None, "mem_limit": spec.memory * 2**20 if spec.memory else None}
    reserved = {"cpu_reservation": int(spec.cpu * spec.reserve * 1e9) if spec.cpu and spec.reserve else None,
                "mem_reservation": int(spec.memory * spec.reserve * 2**20) if spec.memory and spec.reserve else None}
    resources = Resources(**{k: v for k, v in {**limits, **reserved}.items() if v})
    resources.setdefault("Limits", {})["Pids"] = spec.pids
    restart = RestartPolicy(condition="none") if spec.job else RestartPolicy(condition="any", delay=5_000_000_000)
    networks = [NetworkAttachmentConfig(_swarm_network(client, spec.network) or spec.network, aliases=list(spec.aliases))
                ] if spec.network else []
    return TaskTemplate(
        container, resources=resources, restart_policy=restart, networks=networks,
        # Tasks of a service spread over the swarm's machines; the data services stay where their volumes are.
        placement=Placement(constraints=list(spec.constraints) or None, preferences=[("spread", "node.id")]),
        log_driver=DriverConfig("json-file", {"max-size": "10m", "max-file": "3"}),
    )


def service_apply(spec: ServiceSpec) -> str:
    """Create the service, or update it when its spec changed; return "created", "updated" or "unchanged"."""
    client = _client()
    labels = {**spec.labels, SPEC_LABEL: spec.digest()}
    existing = service_get(spec.name)
    if existing is not None and not service_drift(existing, spec) and \
            existing.attrs["Spec"].get("Labels", {}).get(SPEC_LABEL) == labels[SPEC_LABEL]:
        return "unchanged"
    auth = engine.registry_auth(spec.image)
    if auth:  # sent with the create or update, so that every node pulls the image with it
        client.login(registry=spec.image.split("/", 1)[0], **auth)
    template = _template(client, spec)
    mode = ServiceMode("replicated-job", concurrency=1) if spec.job else ServiceMode("replicated", replicas=spec.replicas)
    update = UpdateConfig(parallelism=1, order="start-first" if spec.start_first else "stop-first", failure_action="continue")
    kwargs = dict(
        name=spec.name, labels=labels, mode=mode, update_config=None if spec.job else update,
        endpoint_spec=EndpointSpec(mode="dnsrr"),  # networks live in the task template (Spec.Networks is deprecated)
    )
    try:
        if existing is None:
            client.api.create_service(template, **kwargs)
            return "created"
        # Sent again on every update: an update without it resets the service to a virtual IP (and
        # rolls every task even when only the number of replicas changed).
        client.api.update_service(existing.id, existing.attrs["Version"]["Index"], template, **kwargs)
        return "updated"
    except docker.errors.APIError as exc:
        raise SwarmError(f"Swarm refused the service {spec.name}: {exc.explanation or exc}") from exc


def service_drift(service, spec: ServiceSpec) -> str:
    """What was changed on the service outside Airdock (its image, its replicas), or ""."""
    current = service.attrs["Spec"]
    image = current["TaskTemplate"]["ContainerSpec"]["Image"]
    if image != spec.image:
        return f"its image was changed to {image.rpartition('@')[2][:19] or image}… outside Airdock"
    replicas = current.get("Mode", {}).get("Replicated", {}).get("Replicas")
    if not spec.job and replicas is not None and replicas != spec.replicas:
        return f"it was scaled to {replicas} outside Airdock (desired {spec.replicas})"
    return ""


def service_get(name: str):
    try:
        return _client().services.get(name)
    except docker.errors.NotFound:
        return None


def services_list(labels: dict) -> list:
    return _client().services.list(filters={"label": [f"{k}={v}" for k, v in labels.items()]})


def service_remove(name: str) -> None:
    service = service_get(name)
    if service is not None:
        try:
            service.remove()
        except docker.errors.NotFound:
            pass


def containers_prune(labels: dict) -> None:
    """Remove the stopped containers with these labels on this engine: Swarm leaves a finished job's
    container behind, even once its service is gone."""
    client = _client()
    filters = {"label": [f"{k}={v}" for k, v in labels.items()], "status": "exited"}
    for container in client.api.containers(all=True, filters=filters):
        try:
            client.api.remove_container(container["Id"])
        except docker.errors.APIError:
            pass  # already going


def containers_running(labels: dict) -> int:
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    return len(_client().api.containers(filters=filters))


def volume_remove(name: str) -> None:
    """Remove a volume of this engine (gone already, or still in use: left as it is)."""
    try:
        _client().volumes.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError:
        pass


def service_tasks(name: str) -> list[dict]:
    """Every task Swarm still knows for the service: its state, desired state and exact image."""
    service = service_get(name)
    if service is None:
        return []
    template = service.attrs["Spec"].get("TaskTemplate", {})
    out = []
    for task in service.tasks():
        status = task.get("Status", {})
        out.append({
            "id": task["ID"], "slot": task.get("Slot"), "node": task.get("NodeID", ""),
            "state": status.get("State", ""), "desired": task.get("DesiredState", ""),
            "error": status.get("Err", ""), "message": status.get("Message", ""),
            "since": status.get("Timestamp", ""),
            "image": task["Spec"]["ContainerSpec"]["Image"],
            # Made from the service's current spec (its container and resources, as Swarm compares them)?
            "current": all(task["Spec"].get(part) == template.get(part) for part in ("ContainerSpec", "Resources")),
            "container": status.get("ContainerStatus", {}).get("ContainerID", ""),
            "exit_code": status.get("ContainerStatus", {}).get("ExitCode"),
            "addresses": [address.split("/")[0] for attachment in task.get("NetworksAttachments") or []
                          if not attachment.get("Network", {}).get("Spec", {}).get("Ingress")
                          for address in attachment.get("Addresses") or []],
        })
    return out


def node_names() -> dict[str, str]:
    """Every machine of the swarm: node id -> its host name."""
    return {node.id: node.attrs.get("Description", {}).get("Hostname", node.id[:12]) for node in _client().nodes.list()}


def service_logs(name: str, tail: int = 20) -> str:
    service = service_get(name)
    if service is None:
        return ""
    try:
        return b"".join(service.logs(stdout=True, stderr=True, tail=tail)).decode("utf-8", "replace")
    except docker.errors.APIError:
        return ""


def gateway_address_of(service: str) -> str:
    """The address on this machine's docker_gwbridge of a running container of the service, or ""
    (none runs here). The portal reaches a component there; nothing of it is published."""
    client = _client()
    running = client.api.containers(filters={"label": f"com.docker.swarm.service.name={service}", "status": "running"})
    if not running:
        return ""
    try:
        endpoints = client.api.inspect_network("docker_gwbridge").get("Containers") or {}
    except docker.errors.APIError:
        return ""
    for container in running:
        endpoint = endpoints.get(container["Id"])
        if endpoint and endpoint.get("IPv4Address"):
            return endpoint["IPv4Address"].split("/")[0]
    return ""


def gateway_address() -> str:
    """This machine's address on the swarm's gateway bridge, which every component can reach."""
    try:
        network = _client().networks.get("docker_gwbridge")
    except docker.errors.NotFound as exc:
        raise SwarmError("The engine has no docker_gwbridge network; `make services` makes it.") from exc
    for config in network.attrs.get("IPAM", {}).get("Config") or []:
        if config.get("Gateway"):
            return config["Gateway"].split("/")[0]
    raise SwarmError("docker_gwbridge has no gateway address.")
