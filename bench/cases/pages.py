"""The dashboard and a deployment page with 1,000 deployments and 100,000 deploys: requests per
second and latency under 20 concurrent clients (each a keep-alive session, as browsers are), and
the number of SQL queries a page costs, which must not grow with the deployments it shows."""
from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import requests

from ..harness import Sample, Table, verdict

DEPLOYMENTS = 1000
DEPLOYS = 100_000
BIG = 10_000  # the deploys of the deployment whose page is measured


def seed(user, *, deployments: int = DEPLOYMENTS, deploys: int = DEPLOYS) -> dict:
    """Rows as years of use leave them: bulk-inserted in the bench's own database (the deployments
    only look as if they ran: the data plane has nothing to do for them)."""
    from django.db.models import OuterRef, Subquery
    from django.utils import timezone

    from deployments.models import Deploy, Deployment
    from tenancy import services as tenancy

    org = tenancy.organization_create(slug="load", owner=user, name="Load")
    workspaces = [tenancy.workspace_create(organization=org, name=f"Team {i}") for i in range(10)]
    small = tenancy.workspace_create(organization=org, name="Small")
    now = timezone.now()
    made = Deployment.objects.bulk_create([
        Deployment(workspace=workspaces[i % 10], name=f"etl-{i:04d}", status=Deployment.Status.HEALTHY,
                   status_reason="Running.", desired_image_tag=f"deploy-{i}",
                   # no image digest: the runtime watcher leaves them alone (nothing of them runs in Swarm)
                   desired_dag_bundle_version=f"{i:064x}", desired_airflow_version="3.1.5", desired_runtime_version="3.1-5")
        for i in range(deployments)], batch_size=1000)
    Deployment.objects.bulk_create([Deployment(workspace=small, name=f"small-{i}") for i in range(10)])
    made = list(Deployment.objects.filter(workspace__organization=org, name__startswith="etl-").order_by("pk"))
    big = made[0]
    rows, states = [], [Deploy.State.SUCCEEDED] * 8 + [Deploy.State.FAILED, Deploy.State.CANCELLED]
    for n in range(deploys):
        deployment = big if n < BIG else made[n % len(made)]
        at = now - timedelta(minutes=deploys - n)
        rows.append(Deploy(deployment=deployment, state=random.choice(states), kind=Deploy.Kind.IMAGE_AND_DAGS,
                           created_by=user, description=f"commit {n:x}", started_at=at, finished_at=at + timedelta(seconds=95),
                           image_tag=f"deploy-{n}", image_digest="sha256:" + f"{n:064x}", dag_bundle_version=f"{n:064x}"))
        if len(rows) == 5000:
            Deploy.objects.bulk_create(rows)
            rows = []
    Deploy.objects.bulk_create(rows)
    latest = Deploy.objects.filter(deployment=OuterRef("pk"), state=Deploy.State.SUCCEEDED).order_by("-pk").values("pk")[:1]
    Deployment.objects.filter(workspace__organization=org).update(current_deploy=Subquery(latest))
    return {"org": org, "small": small, "big": big}


def queries(client, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    return len(captured.captured_queries)


def profile(client, path: str, runs: int = 20) -> tuple[float, float, float]:
    """Where one request's time goes, in this process (no network): milliseconds per request and in
    SQL (the queries' own times), from `runs` plain requests; and the share of template rendering
    (django.template's Template.render, the queries the templates run included) from `runs` more
    under cProfile."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    total = sql = 0.0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            client.get(path)
            total += time.perf_counter() - start
        sql += sum(float(q["time"]) for q in captured.captured_queries)
    profiler = cProfile.Profile()
    for _ in range(runs):
        profiler.enable()
        client.get(path)
        profiler.disable()
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (calls, primitive calls, own time, cumulative, callers)
    profiled = sum(own for (_, _, own, _, _) in stats.values()) or 1.0
    rendering = max((cumulative for (file, _, name), (_, _, _, cumulative, _) in stats.items()
                     if name == "render" and file.endswith("django/template/base.py")), default=0.0)
    return total / runs * 1000, sql / runs * 1000, rendering / profiled


def load(url: str, cookie: dict, *, clients: int = 20, seconds: float = 10.0, warmup: float = 2.0) -> tuple[float, Sample]:
    """`clients` threads asking for `url` one after the other for `seconds` (after a warm-up):
    requests per second, and each request's latency."""
    latencies: list[float] = []
    lock = threading.Lock()
    start = time.monotonic()
    measuring = start + warmup
    end = measuring + seconds
    errors: list[str] = []

    def client() -> None:
        session = requests.Session()
        session.cookies.update(cookie)
        while (now := time.monotonic()) < end:
            answer = session.get(url, timeout=60)
            took = time.monotonic() - now
            if answer.status_code != 200:
                errors.append(f"{answer.status_code}")
            if now >= measuring:
                with lock:
                    latencies.append(took)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{url}: {len(errors)} answers were not 200 ({errors[:3]})")
    return len(latencies) / seconds, Sample(latencies)


def run(world, *, smoke: bool = False) -> Table:
    from django.test import Client

    from deployments.models import Deploy

    seeded = seed(world.user, deployments=100 if smoke else DEPLOYMENTS, deploys=2_000 if smoke else DEPLOYS)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(world.user)
    small_user = world.member_of(seeded["small"])
    small = Client(HTTP_HOST="127.0.0.1")
    small.force_login(small_user)
    table = Table("Dashboard and deployment pages", [
        "page", "rows", "one client: p50", "20 clients: requests/s", "p50", "p95", "target p95 < 100 ms", "SQL queries"])
    cookie = world.session_cookie(world.user)
    big = seeded["big"]
    pages = [("dashboard", "/", f"{Deploy.objects.count():,} deploys, all deployments", queries(client, "/"),
              f"{queries(small, '/')} with 10 deployments"),
             ("deployment page", f"/deployments/{big.pk}/", f"{big.deploys.count():,} deploys of it", queries(client, f"/deployments/{big.pk}/"),
              "")]
    where = []
    for name, path, rows, count, beside in pages:
        took, sql, rendering = profile(client, path, runs=5 if smoke else 20)
        where.append(f"{name}: {took:.0f} ms per request in-process, {sql:.1f} ms of it in SQL, "
                     f"about {rendering:.0%} of the profiled time in template rendering (the queries it runs included)")
        _, alone = load(world.portal.url + path, cookie, clients=1, seconds=2 if smoke else 5, warmup=1)
        rate, latency = load(world.portal.url + path, cookie, seconds=3 if smoke else 10, warmup=1 if smoke else 2)
        table.add(name, rows, f"{alone.p(50) * 1000:.0f} ms", f"{rate:.1f}", f"{latency.p(50) * 1000:.0f} ms", f"{latency.p(95) * 1000:.0f} ms",
                  verdict(latency.p(95) * 1000, 100, " ms"), f"{count}" + (f" ({beside})" if beside else ""))
    table.notes.append("Where the time goes (cProfile and the queries' own times, in the bench process): " + "; ".join(where) + ". "
                       "One daphne runs Django's views on one core at a time (the GIL), so 20 clients that ask again as soon as "
                       "they are answered wait about 20 × the time of one request (Little's law): a p95 under 100 ms at 20 "
                       "clients needs a page under 5 ms, or more web processes and cores.")
    table.notes.append(f"{DEPLOYMENTS if not smoke else 100} deployments in 10 workspaces of one organization, the user an owner of "
                       "all; the web process is one daphne (as `make run` serves it), on this machine's 2 cores with the clients.")
    return table
