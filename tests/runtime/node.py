"""A second Docker engine that joins the swarm, as a second machine would: its own network namespace
(a veth pair on the swarm's bridge, `airdock-swarm`), its own host name, data root, exec root and
socket. It reaches the manager at the swarm's address and the registry at `127.0.0.1:5000` (a
forwarder in its namespace, through a unix socket), as a real second machine would with the
registry on its network. Everything it makes is removed again, leftovers of a killed run included."""
from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker

NAME = "airdock-test-node2"
NETNS = "adktest-n2"
VETH_HOST, VETH_NODE = "adktest-n2h", "adktest-n2c"
ADDRESS = "172.31.252.2"
GWBRIDGE_SUBNET = "172.31.254.0/24"
DATA = Path("/var/lib") / NAME
RUN = Path("/run") / NAME
SOCKET = RUN / "docker.sock"
REGISTRY_SOCKET = RUN / "registry.sock"
FORWARD = str(Path(__file__).with_name("forward.py"))


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=check)


def in_netns(*args: str) -> list[str]:
    """Enter the namespace's network only: `ip netns exec` would also remount /sys, and with it hide
    the cgroup mounts the engine needs."""
    return ["nsenter", f"--net=/run/netns/{NETNS}", *args]


def _wait(what: str, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"the second engine: {what} not within {timeout:.0f} s")
        time.sleep(1)


def remove() -> None:
    """Remove the second engine and all it made; idempotent."""
    manager = docker.from_env()
    pid_file = RUN / "dockerd.pid"
    if SOCKET.exists():
        with contextlib.suppress(docker.errors.DockerException):
            docker.DockerClient(base_url=f"unix://{SOCKET}", timeout=30, version="1.41").swarm.leave(force=True)
    for node in manager.nodes.list():
        if node.attrs.get("Description", {}).get("Hostname") == NAME:
            with contextlib.suppress(docker.errors.APIError):
                node.remove(force=True)
    for pattern in (f"dockerd.*{NAME}", f"forward.py.*{NAME}"):
        sh("pkill", "-f", pattern, check=False)
    if pid_file.exists():
        pid = pid_file.read_text().strip()
        for _ in range(60):
            if sh("kill", "-0", pid, check=False).returncode != 0:
                break
            time.sleep(0.5)
        else:
            sh("kill", "-9", pid, check=False)
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if f"/{NAME}/" in line.split()[1]]
    for mount in sorted(mounts, reverse=True):
        sh("umount", "-l", mount, check=False)
    sh("ip", "netns", "delete", NETNS, check=False)
    sh("ip", "link", "delete", VETH_HOST, check=False)
    shutil.rmtree(DATA, ignore_errors=True)
    shutil.rmtree(RUN, ignore_errors=True)


@contextlib.contextmanager
def second_engine():
    """Yield a docker client of a second engine that is a worker of the manager's swarm."""
    manager = docker.from_env()
    swarm_addr = manager.info()["Swarm"]["NodeAddr"]
    assert not swarm_addr.startswith("127."), f"the swarm advertises {swarm_addr}: no other engine can join (make services)"
    remove()
    RUN.mkdir(parents=True)
    DATA.mkdir(parents=True)
    try:
        sh("ip", "netns", "add", NETNS)
        sh("ip", "link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NODE)
        sh("ip", "link", "set", VETH_NODE, "netns", NETNS)
        sh("ip", "link", "set", VETH_HOST, "master", "airdock-swarm", "up")
        for command in (("ip", "link", "set", "lo", "up"), ("ip", "addr", "add", f"{ADDRESS}/24", "dev", VETH_NODE),
                        ("ip", "link", "set", VETH_NODE, "up"), ("ip", "route", "add", "default", "via", swarm_addr)):
            sh(*in_netns(*command))
        logs = open(RUN / "engine.log", "w")  # noqa: SIM115 (kept open for the processes)
        subprocess.Popen([sys.executable, FORWARD, f"unix:{REGISTRY_SOCKET}", "127.0.0.1:5000", NAME],
                         stdout=logs, stderr=logs, start_new_session=True)
        subprocess.Popen(in_netns(sys.executable, FORWARD, "127.0.0.1:5000", f"unix:{REGISTRY_SOCKET}", NAME),
                         stdout=logs, stderr=logs, start_new_session=True)
        subprocess.Popen(in_netns(
            "unshare", "--uts", "sh", "-c",
            f"hostname {NAME} && exec dockerd --data-root {DATA} --exec-root {RUN}/exec --pidfile {RUN}/dockerd.pid "
            f"-H unix://{SOCKET} --bridge=none --iptables=true --storage-driver=overlay2 --log-level=warn"),
            stdout=logs, stderr=logs, start_new_session=True)
        client = docker.DockerClient(base_url=f"unix://{SOCKET}", timeout=120, version="1.41")

        def answers() -> bool:
            try:
                return bool(client.ping())
            except Exception:  # noqa: BLE001 - not listening yet (requests' or docker's errors)
                return False

        _wait("the engine answering", answers, 60)
        # Its gateway bridge, where its containers leave for the manager's portal, on a subnet of its own.
        client.networks.create("docker_gwbridge", driver="bridge", ipam=docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=GWBRIDGE_SUBNET)]), options={
            "com.docker.network.bridge.name": "docker_gwbridge", "com.docker.network.bridge.enable_icc": "false",
            "com.docker.network.bridge.enable_ip_masquerade": "true"})
        token = manager.swarm.attrs["JoinTokens"]["Worker"]
        client.swarm.join(remote_addrs=[f"{swarm_addr}:2377"], join_token=token,
                          advertise_addr=ADDRESS, listen_addr=f"{ADDRESS}:2377")

        def ready() -> bool:
            return any(n.attrs["Description"].get("Hostname") == NAME and n.attrs["Status"]["State"] == "ready"
                       for n in manager.nodes.list())

        _wait("the node ready in the swarm", ready, 60)
        yield client
    except BaseException:
        log = RUN / "engine.log"
        if log.exists():
            print(log.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        remove()
