"""Throughput: 20 DAG-only deploys asked for at once, of 20 deployments, on 2 deploy workers:
deploys per minute, and how long each one took from its request to its end. The deployments
hibernate (nothing of them runs), so what is measured is the deploy path: check, parse, bundle."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ..harness import Sample, Table
from ..projects import make_project, pack

COUNT = 20


def wait_ended(world, deploy_ids: list[int], timeout: float = 900) -> None:
    from deployments.models import Deploy

    deadline = time.monotonic() + timeout
    while Deploy.objects.filter(pk__in=deploy_ids, state__in=Deploy.ACTIVE_STATES).exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"deploys still active after {timeout:.0f} s")
        time.sleep(0.5)
    failed = list(Deploy.objects.filter(pk__in=deploy_ids).exclude(state=Deploy.State.SUCCEEDED).values_list("pk", "error"))
    if failed:
        raise RuntimeError(f"deploys that did not succeed: {failed[:3]}")


def run(world, *, smoke: bool = False) -> Table:
    from deployments.models import Deploy, Deployment
    from deployments.services import deployments

    count = 4 if smoke else COUNT
    root = make_project(Path(tempfile.mkdtemp(prefix="airdock-bench-")) / "p", dags=10)
    made = [deployments.deployment_create(workspace=world.workspace, name=f"throughput-{i}", dag_deploy_enabled=True)
            for i in range(count)]
    for deployment in made:  # as a user hibernates them: nothing of them runs
        world.api("POST", f"/deployments/{deployment.pk}/hibernate")
    world.portal.worker()  # run.sh's worker and this one: two
    first = world.api("POST", f"/deployments/{made[0].pk}/deploys", files={"archive": ("p.tar.gz", pack(root))})
    wait_ended(world, [first["id"]])
    source = Deployment.objects.get(pk=made[0].pk)
    fields = ("desired_image_repository", "desired_image_tag", "desired_image_digest", "desired_airflow_version",
              "desired_runtime_version", "runtime_image")
    Deployment.objects.filter(pk__in=[d.pk for d in made[1:]]).update(**{f: getattr(source, f) for f in fields})
    archive = pack(root)
    start = time.monotonic()
    ids = [world.api("POST", f"/deployments/{d.pk}/deploys", data={"kind": "dags"}, files={"archive": ("p.tar.gz", archive)})["id"]
           for d in made]
    asked = time.monotonic() - start
    wait_ended(world, ids)
    took = time.monotonic() - start
    done = list(Deploy.objects.filter(pk__in=ids))
    each = Sample([(d.finished_at - d.created_at).total_seconds() for d in done])
    running = Sample([(d.finished_at - d.started_at).total_seconds() for d in done])
    table = Table("Throughput: DAG-only deploys", ["deploys", "workers", "all asked for in", "all done in", "deploys per minute",
                                                    "request to end (median, max)", "running (median)"])
    table.add(count, 2, f"{asked:.1f} s", f"{took:.1f} s", f"{count / took * 60:.1f}", f"{each.median:.1f} s, {max(each.values):.1f} s",
              f"{running.median:.1f} s")
    for deployment in made:  # gone, as a user deletes them: the later cases measure their own deployments alone
        world.api("DELETE", f"/deployments/{deployment.pk}")
    table.notes.append("Each DAG-only deploy unpacks the upload, parses its 10 DAG files in the deployment's image (pulled by "
                       "digest) and stores the bundle in S3; `AIRDOCK_ORG_CONCURRENT_DEPLOYS` is 2, so both workers serve "
                       "the one organization.")
    return table
