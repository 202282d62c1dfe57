"""Upgrade readiness, checked in the background after every successful deploy: the deployed
project built on the newest Runtime of its line and on the newest Runtime of the next Airflow
major, and its DAGs parsed there (what `astro dev upgrade-test` does on a laptop, here at deploy
time). It never blocks or slows the deploy: it runs on the "default" queue after activation."""
from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from portal.errors import AirdockError

from ..integrations import engine
from ..models import Deploy, Deployment
from . import archives, bundles
from .deploys.steps.checks import files_for_checks
from .deploys.steps.parse import last_line, parse_in_image
from .runtimes import table
from .runtimes.dockerfile import dockerfile_rewrite
from .runtimes.images import ensure_runtime_image
from .runtimes.resolve import local_image, resolve

logger = logging.getLogger(__name__)
JOB = "deployments.jobs.check_upgrade_readiness"


def readiness_enqueue(*, deploy: Deploy) -> None:
    """Queue the check for a deploy that just succeeded (nothing to check without a Runtime)."""
    if not Deployment.objects.filter(pk=deploy.deployment_id).exclude(desired_runtime_version="").exists():
        return
    import django_rq

    try:
        django_rq.get_queue("default").enqueue(JOB, deploy.deployment_id, deploy.pk, job_timeout=settings.AIRDOCK_DEPLOY_JOB_TIMEOUT)
    except Exception:  # noqa: BLE001 - a missed check must never touch the deploy
        logger.warning("cannot queue the upgrade check of deploy %s", deploy.pk, exc_info=True)


def readiness_targets(current: table.RuntimeVersion) -> list[table.RuntimeVersion]:
    targets = []
    newest = table.newest(current.line)
    if newest is not None and newest.key > current.key:
        targets.append(newest)
    next_line = table.next_major_line(current)
    if next_line:
        targets.append(table.newest(next_line))
    return targets


def readiness_check(*, deployment_id: int, deploy_id: int) -> dict:
    """Build and parse the deployment's project on each target Runtime; store and return the result."""
    deployment = Deployment.objects.select_related("workspace__organization").get(pk=deployment_id)
    if deployment.current_deploy_id != deploy_id:
        return {}  # a newer deploy is live: its own check answers
    current = table.get(deployment.desired_runtime_version)
    result = {"deploy_id": deploy_id, "runtime": deployment.desired_runtime_version, "targets": [], "checked_at": None}
    if current is None:
        result["message"] = f"Runtime {deployment.desired_runtime_version} is not in the table; nothing to compare."
        return _store(deployment, result)
    source = _project_deploy(deployment)
    work = Path(tempfile.mkdtemp(prefix=f"airdock-upgrade-{deployment.pk}-"))
    try:
        project = _unpack_project(deployment, source, work)
        for target in readiness_targets(current):
            result["targets"].append(_check(deployment, project, current, target))
    except AirdockError as exc:
        result["message"] = exc.message
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["checked_at"] = timezone.now().isoformat()
    return _store(deployment, result)


def _store(deployment: Deployment, result: dict) -> dict:
    Deployment.objects.filter(pk=deployment.pk, current_deploy_id=result["deploy_id"]).update(upgrade_readiness=result)
    return result


def _project_deploy(deployment: Deployment) -> Deploy:
    """The deploy whose uploaded project built the image that runs now."""
    deploy = (
        deployment.deploys.filter(state=Deploy.State.SUCCEEDED, image_digest=deployment.desired_image_digest)
        .exclude(archive="").exclude(kind=Deploy.Kind.DAGS).order_by("-created_at").first()
    )
    if deploy is None:
        raise AirdockError("The project that built the current image is not stored here (a prebuilt image?).")
    return deploy


def _unpack_project(deployment: Deployment, deploy: Deploy, work: Path) -> Path:
    upload, project = work / "upload", work / "project"
    project.mkdir()
    with deploy.archive.open("rb") as src, open(upload, "wb") as dst:
        shutil.copyfileobj(src, dst)
    info = archives.archive_inspect(upload, require="project")
    archives.archive_extract(upload, info, project)
    if deployment.dag_deploy_enabled and deployment.desired_dag_bundle_version:  # the DAGs that run now
        data, _ = bundles.bundle_fetch(deployment=deployment, version=deployment.desired_dag_bundle_version)
        bundle, unpacked = work / "bundle.tar.gz", work / "bundle"
        bundle.write_bytes(data)
        unpacked.mkdir()
        archives.archive_extract(bundle, archives.archive_inspect(bundle, require="dags"), unpacked)
        shutil.rmtree(project / "dags", ignore_errors=True)
        shutil.move(unpacked / "dags", project / "dags")
    return project


def _check(deployment: Deployment, project: Path, current: table.RuntimeVersion, target: table.RuntimeVersion) -> dict:
    found = {"runtime": target.runtime, "airflow": target.airflow, "ready": False, "errors": [], "message": ""}
    build_dir = project.parent / f"build-{target.runtime}"
    shutil.copytree(project, build_dir)
    tag = f"airdock-upgrade/deployment-{deployment.pk}:runtime-{target.runtime}"
    lines: list[str] = []
    try:
        dockerfile = build_dir / "Dockerfile"
        text = dockerfile_rewrite(dockerfile.read_text(encoding="utf-8", errors="replace")).text
        for base in (True, False):  # the project's Runtime, as rewritten, becomes the target's
            text = text.replace(local_image(current, base=base), local_image(target, base=base))
        dockerfile.write_text(text, encoding="utf-8")
        for name in ("packages.txt", "requirements.txt"):
            (build_dir / name).touch(exist_ok=True)
        ensure_runtime_image(resolve(target.image_ref), on_line=lines.append)
        engine.image_build(
            context_dir=build_dir, tag=tag, on_line=lines.append, timeout=settings.AIRDOCK_BUILD_TIMEOUT,
            memory=settings.AIRDOCK_BUILD_MEMORY,
            buildargs={"AIRDOCK_REQUIREMENTS_TIMEOUT": str(settings.AIRDOCK_REQUIREMENTS_TIMEOUT)},
        )
        summary = parse_in_image(tag, files_for_checks(build_dir, build_dir / "dags", with_tests=False), on_line=lines.append)
        found["errors"] = [
            {"file": f["file"], "line": f["line"], "error": last_line(f["error"])} for f in summary["files"] if f["error"]
        ]
        found["ready"] = not found["errors"]
        found["dags"] = len(summary["dag_ids"])
    except AirdockError as exc:
        found["message"] = f"The project does not build on {target}: {exc.message}"
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
        try:
            engine.image_remove(tag)
        except engine.DockerError:
            pass
    return found

