"""DAG-only deploys to a running Airflow 3 deployment, of projects with 10 and 200 DAG files, each
deploy changing one of them (a new DAG id), as a typical change does:
request → accepted → bundle stored → every running component reporting the new bundle → the new
DAG visible in Airflow's API (through the portal). Beside it, the raw work up to "bundle stored",
measured in the same run: `tar -czf` of dags/, the same bytes put to the same S3 server, and the
same parse (a DagBag of the folder) in the same image."""
from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from ..harness import Table, ratio, repeat, seconds, verdict, with_spread
from ..projects import make_project, pack
from ..running import Running, wait
from ..world import BUCKET

PARSE = "from airflow.models.dagbag import DagBag; bag = DagBag('/dags', include_examples=False); assert not bag.import_errors, bag.import_errors"


def raw_floor(root: Path, image: str, work: Path) -> dict[str, float]:
    """The work that cannot be avoided, by hand: pack, store, parse."""
    import boto3
    from django.conf import settings

    archive = work / "dags.tar.gz"
    start = time.perf_counter()
    subprocess.run(["tar", "-czf", str(archive), "-C", str(root), "dags"], check=True)
    packed = time.perf_counter()
    s3 = boto3.client("s3", endpoint_url=settings.S3_OPTIONS["endpoint_url"], region_name="us-east-1")
    s3.put_object(Bucket=BUCKET, Key=f"raw/{time.time_ns()}.tar.gz", Body=archive.read_bytes())
    stored = time.perf_counter()
    subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{root / 'dags'}:/dags:ro", image, "python", "-c", PARSE],
                   check=True, capture_output=True)
    parsed = time.perf_counter()
    return {"tar": packed - start, "s3": stored - packed, "parse": parsed - stored, "raw": parsed - start}


def one(running: Running, size: int, version: list[int], work: Path) -> dict[str, float]:
    from deployments.models import Deploy, DeployStep

    version[0] += 1
    root = make_project(work / f"p{size}-{version[0]}", dags=size, version=str(version[0]))
    archive = pack(root)
    start = time.monotonic()
    made = running.world.api("POST", f"/deployments/{running.id}/deploys", data={"kind": "dags"},
                             files={"archive": ("p.tar.gz", archive)})
    accepted = time.monotonic() - start
    running.ended(made["id"])
    deploy = Deploy.objects.get(pk=made["id"])
    upload = DeployStep.objects.get(deploy=deploy, name=Deploy.State.UPLOADING_DAGS)
    # the deploy's own clock (the database's times) from its creation, plus the request's way in
    stored = (upload.finished_at - deploy.created_at).total_seconds() + accepted
    # Where the time up to "stored" goes: the request, the wait for a worker, each step, the gaps between
    # (a successful deploy's steps up to UPLOADING_DAGS all ran to their end).
    done = list(DeployStep.objects.filter(deploy=deploy, position__lte=upload.position, started_at__isnull=False).order_by("position"))
    profile = {"queued": (done[0].started_at - deploy.created_at).total_seconds(),
               **{s.name: (s.finished_at - s.started_at).total_seconds() for s in done}}
    profile["between"] = stored - accepted - profile["queued"] - sum(profile[s.name] for s in done)
    # Each from the same start, watched side by side: neither waits for the other.
    checks = {"reported": lambda: running.serving_bundles() == {deploy.dag_bundle_version},
              "visible": lambda: running.dag_visible(f"pipeline_000_v{version[0]}")}
    seen: dict[str, float] = {}

    def both() -> bool:
        for name, check in checks.items():
            if name not in seen and check():
                seen[name] = time.monotonic() - start
        return len(seen) == len(checks)

    wait(both, timeout=300, what="every component on the new bundle and the new DAG in Airflow", every=0.2)
    reported, visible = seen["reported"], seen["visible"]
    image = f"{deploy.deployment.desired_image_repository}@{deploy.deployment.desired_image_digest}"
    floor = raw_floor(root, image, work)
    # The first 200-file deploy (the warm-up) adds 190 files: the next run starts once the DAG processor
    # has parsed them all, or it would measure the warm-up's backlog (a pass over 190 new files).
    others = {f"pipeline_{i:03d}" for i in range(1, size)}
    wait(lambda: others <= running.dag_ids(), timeout=300, what=f"the {size} files' DAGs in Airflow", every=1)
    return {"accepted": accepted, "stored": stored, "reported": reported, "visible": visible, "after_stored": visible - stored,
            **floor, **{f"step_{name}": value for name, value in profile.items()}}


def run(world, *, smoke: bool = False) -> Table:
    work = Path(tempfile.mkdtemp(prefix="airdock-bench-dags-"))
    running = world.running(3)
    version = [0]
    table = Table("DAG-only deploy to a running Airflow 3 deployment", [
        "DAG files", "accepted", "bundle stored", "every component on it", "new DAG in Airflow",
        "raw: tar + S3 + parse", "stored / raw (target ≤ 1.15×)", "DAG visible after stored (target ≤ 10 s)",
        "ours up to stored (median)"])
    for size in ((10,) if smoke else (10, 200)):
        # 10 files: the deployment's bring-up deployed them, a warm-up of its own; 200: the first deploy adds 190
        # new files, which the DAG processor parses once, a warm-up run that is dropped.
        runs, warmup = (1, 0) if smoke else (3, 0) if size == 10 else (2, 1)
        found = repeat(lambda size=size: one(running, size, version, work), runs=runs, warmup=warmup)
        table.add(size, with_spread(found["accepted"]), with_spread(found["stored"]), with_spread(found["reported"]),
                  with_spread(found["visible"]),
                  f"{seconds(found['raw'])} ({seconds(found['tar'])} + {seconds(found['s3'])} + {seconds(found['parse'])})",
                  verdict(ratio(found["stored"], found["raw"]), 1.15), verdict(found["after_stored"].median, 10, " s"),
                  ", ".join(f"{name.removeprefix('step_').lower()} {seconds(sample)}" for name, sample in
                            [("request", found["accepted"]), *((k, v) for k, v in found.items() if k.startswith("step_"))]))
    table.notes.append("Times from the request; \"bundle stored\" is the end of the deploy's UPLOADING_DAGS step. Each deploy "
                       "changes one DAG file (a new DAG id). Components fetch a new bundle when their agent next asks (every "
                       "2 s, no restart); unchanged files keep their modification time, so the DAG processor parses the changed "
                       "file at its next turn and no other. It parses unchanged files again every 120 s (for DAGs made from "
                       "outside state); a deploy landing during such a pass, or during the parse of many new files, waits "
                       "for its end (about 35 s with 200 files here: at 10 s the processor was always in a pass). Each run "
                       "here starts once the files before it are parsed. \"Ours up to stored\": the upload request, the wait for a "
                       "worker (queued), each step (parsing: a container of the deployment's image with the project copied "
                       "in, where the raw parse mounts dags/), and the database writes between steps; the request's end, after "
                       "the deploy is made, counts in both the request and queued.")
    return table

