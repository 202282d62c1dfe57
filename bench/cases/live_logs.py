"""Live logs: 50 browsers' websockets follow one deploy whose worker writes 500 log lines a second
(through the deploy's own log, as a build step does); the time from a line being written to each
client receiving it, and the web process's memory meanwhile."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

from ..harness import Sample, Table, verdict

CLIENTS = 50
RATE = 500  # lines per second


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def follow(url: str, cookie: str, origin: str, latencies: list[float], ready: asyncio.Event, count: list[int],
                 done: asyncio.Event, expected: int, clients: int) -> int:
    import websockets

    received = 0
    seen: set[int] = set()  # as the page does: a line the snapshot and the live stream both carry, once
    async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": origin}, max_size=2**24) as socket:
        count[0] += 1
        if count[0] == clients:
            ready.set()
        while received < expected and not done.is_set():
            try:
                message = await asyncio.wait_for(socket.recv(), timeout=10)
            except TimeoutError:
                break
            now = time.time()
            event = json.loads(message)
            if event.get("type") != "deploy.log":
                continue
            for line in event["lines"]:
                if line["seq"] in seen:
                    continue
                seen.add(line["seq"])
                if line["text"].startswith("bench t="):
                    latencies.append(now - float(line["text"].split("=", 1)[1].split()[0]))
                    received += 1
    return received


def write(deploy, seconds: float, started: threading.Event, stop: threading.Event) -> int:
    """The worker's side: the deploy's log (RunContext, as the pipeline's steps write it)."""
    from django.db import connection

    from deployments.services.deploys.context import RunContext

    written = 0
    try:
        with RunContext.open(deploy) as ctx:
            ctx.log.step = "BUILDING"
            while not started.wait(0.5):  # until every client is connected (or the bench gives up)
                if stop.is_set():
                    return written
            begin = time.monotonic()
            while (elapsed := time.monotonic() - begin) < seconds and not stop.is_set():
                due = int(elapsed * RATE)
                while written < due:
                    ctx.log(f"bench t={time.time():.6f} Step {written}: RUN pip install --no-cache-dir package-{written % 50}")
                    written += 1
                time.sleep(0.002)
            ctx.log.flush()
    finally:
        connection.close()
    return written


def run(world, *, smoke: bool = False) -> Table:
    from deployments.models import Deploy
    from deployments.services import deployments

    seconds = 3 if smoke else 10
    clients = 5 if smoke else CLIENTS
    deployment = deployments.deployment_create(workspace=world.workspace, name="live-logs")
    deploy = Deploy.objects.create(deployment=deployment, state=Deploy.State.BUILDING, job_id="bench-live-logs")
    cookie = "; ".join(f"{k}={v}" for k, v in world.session_cookie(world.user).items())
    url = world.portal.url.replace("http://", "ws://") + f"/ws/deploys/{deploy.pk}/"
    pid = world.portal.daphne_pid()
    before = rss_mib(pid)
    latencies: list[float] = []
    peak = [before]
    started, stop = threading.Event(), threading.Event()
    written = [0]

    def writer() -> None:
        written[0] = write(deploy, seconds, started, stop)

    def sample_memory() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mib(pid))
            time.sleep(0.2)

    async def main() -> list[int]:
        ready, done = asyncio.Event(), asyncio.Event()
        count = [0]
        tasks = [asyncio.create_task(follow(url, cookie, world.portal.url, latencies, ready, count, done, seconds * RATE, clients))
                 for _ in range(clients)]
        await asyncio.wait_for(ready.wait(), timeout=60)
        started.set()
        results = await asyncio.gather(*tasks)
        done.set()
        return results

    threads = [threading.Thread(target=writer), threading.Thread(target=sample_memory)]
    for thread in threads:
        thread.start()
    try:
        received = asyncio.run(main())
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    Deploy.objects.filter(pk=deploy.pk).update(state=Deploy.State.CANCELLED)
    sample = Sample(latencies)
    table = Table("Live logs", ["clients", "lines written", "lines received (each client)", "p50", "p95",
                                "target p95 < 100 ms", "web process memory"])
    table.add(clients, f"{written[0]:,} at {RATE}/s", f"{min(received):,}–{max(received):,}", f"{sample.p(50) * 1000:.0f} ms",
              f"{sample.p(95) * 1000:.0f} ms", verdict(sample.p(95) * 1000, 100, " ms"),
              f"{before:.0f} MiB before, {peak[0]:.0f} MiB at most")
    table.notes.append("Latency: from the worker's log call to the client's receipt, on one machine (one clock); through "
                       "the deploy's log batching, the database, channels-redis and daphne, as a browser gets it.")
    return table
