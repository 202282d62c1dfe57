"""Footprint and rollouts, per Airflow line: the memory and CPU of one idle deployment (all its
components), how many such deployments this machine holds HEALTHY at once, the first bring-up
(first deploy → HEALTHY), and a settings change (an environment variable) rolled out to HEALTHY."""
from __future__ import annotations

import os
import time

from ..harness import Sample, Table, repeat, with_spread

MIB = 2**20


def usage(deployment_id: int) -> dict[str, tuple[float, float]]:
    """component → (MiB in use, CPU cores used), from two reads of each container's cgroup, 5 s apart."""
    import docker

    client = docker.from_env()
    labels = [f"io.airdock.instance={os.environ['AIRDOCK_RUNTIME_NAME_PREFIX']}", f"io.airdock.deployment={deployment_id}"]
    containers = client.containers.list(filters={"label": labels, "status": "running"})
    first = {c.id: c.stats(stream=False) for c in containers}
    time.sleep(5)
    found: dict[str, tuple[float, float]] = {}
    for container in containers:
        second = container.stats(stream=False)
        memory = second["memory_stats"]
        used = memory.get("usage", 0) - memory.get("stats", {}).get("inactive_file", 0)
        cpu = second["cpu_stats"]["cpu_usage"]["total_usage"] - first[container.id]["cpu_stats"]["cpu_usage"]["total_usage"]
        system = second["cpu_stats"].get("system_cpu_usage", 0) - first[container.id]["cpu_stats"].get("system_cpu_usage", 0)
        cores = second["cpu_stats"].get("online_cpus") or os.cpu_count()
        component = container.labels.get("io.airdock.component", container.name)
        mib, used_cores = found.get(component, (0.0, 0.0))
        found[component] = (mib + used / MIB, used_cores + (cpu / system * cores if system else 0.0))
    return found


def settings_rollout(world, running, n: list[int]) -> dict[str, float]:
    from deployments.models import Rollout

    n[0] += 1
    start = time.monotonic()
    world.api("POST", f"/deployments/{running.id}/variables", json={"key": f"BENCH_SETTING_{n[0]}", "value": "on"})
    rollout = Rollout.objects.filter(deployment_id=running.id).order_by("-pk").first()
    while Rollout.objects.filter(pk=rollout.pk, state=Rollout.State.ROLLING).exists():
        time.sleep(0.3)
    rollout.refresh_from_db()
    if rollout.state != Rollout.State.DONE:
        raise RuntimeError(f"the settings rollout ended {rollout.state}: {rollout.message}")
    return {"rollout": time.monotonic() - start}


def image_rollout(world, running, n: list[int]) -> dict[str, float]:
    """An image deploy (one DAG file changed, so a new image): from its activation to HEALTHY."""
    import tempfile
    from pathlib import Path

    from deployments.models import Deploy

    from ..projects import make_project, pack

    n[0] += 1
    root = make_project(Path(tempfile.mkdtemp(prefix="airdock-bench-fp-")) / "p", dags=10, major=running.major, version=f"fp{n[0]}",
                        code=f"footprint-{n[0]}-{time.time_ns()}")
    made = world.api("POST", f"/deployments/{running.id}/deploys", files={"archive": ("p.tar.gz", pack(root))})
    running.ended(made["id"], timeout=1200)
    running.healthy(timeout=900)
    activated = Deploy.objects.get(pk=made["id"]).finished_at.timestamp()  # SUCCEEDED: activated
    return {"image_rollout": time.time() - activated}


def run(world, *, smoke: bool = False) -> Table:
    from deployments.models import Deployment

    table = Table("Footprint and rollouts of one deployment", [
        "Airflow", "idle memory (all components)", "idle CPU", "largest components", "deployments this machine holds",
        "first deploy → HEALTHY", "image deploy: activation → HEALTHY", "settings change → HEALTHY"])
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / MIB
    cores = os.cpu_count() or 1
    for major in (3,) if smoke else (3, 2):
        running = world.running(major)
        time.sleep(15)  # idle: after its start-up work
        found = usage(running.id)
        memory = sum(m for m, _ in found.values())
        cpu = sum(c for _, c in found.values())
        largest = ", ".join(f"{name} {m:.0f} MiB" for name, (m, _) in sorted(found.items(), key=lambda kv: -kv[1][0])[:3])
        by_memory = int(total * 0.85 // memory)  # 15 % left to the portal, its services and the OS
        by_cpu = int(cores * 0.8 // cpu) if cpu else by_memory
        n = [0]
        measured = world.image_rollouts.get(major)  # the image deploy case's, when it ran: not again here

        def both(running=running, n=n, measured=measured) -> dict[str, float]:
            return settings_rollout(world, running, n) | ({} if measured else image_rollout(world, running, n))

        rollouts = repeat(both, runs=1, warmup=0)
        if measured:
            rollouts["image_rollout"] = Sample(measured)
        table.add(f"{major} (Runtime {Deployment.objects.get(pk=running.id).desired_runtime_version})", f"{memory:.0f} MiB", f"{cpu:.2f} cores",
                  largest, f"{min(by_memory, by_cpu)} (memory allows {by_memory}, idle CPU {by_cpu})",
                  f"{running.first_healthy:.0f} s", with_spread(rollouts["image_rollout"]), with_spread(rollouts["rollout"]))
    table.notes.append(f"This machine: {cores} cores, {total / 1024:.0f} GiB. \"Holds\" is computed from the idle footprint "
                       "(85 % of memory, 80 % of the cores), not by starting that many; hibernated deployments use nothing. "
                       "A settings change is a new environment variable: every component restarts (rolling, start-first). "
                       "One rollout of each kind per line here (each costs a minute or more); for Airflow 3 the image deploys "
                       "are those of the image deploy table.")
    return table

