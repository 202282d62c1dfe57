"""Retention: what old deploys leave behind does not grow without bound.

Each deployment keeps, whole, its last AIRDOCK_RETENTION_KEEP_DEPLOYS successful deploys, every
deploy that ended within AIRDOCK_RETENTION_DAYS, its current deploy and any active one: those are
what a rollback or a new build may need, with the image and DAG bundle each of them runs (which
may come from an earlier deploy). Any other ended deploy is pruned: its log and uploaded archive
are deleted, and so are its image (the engine's tag and the registry's manifest) and its DAG
bundle unless a kept deploy, or what the deployment runs, uses them. The deploy's row stays, with
`pruned_at`, for the history and the audit; a rollback to it is refused, naming why.

After images were deleted, the registry's garbage collection removes the layers no manifest names
any more. It never runs while a deploy pushes: the push step, once PUSHING, waits while GC_FLAG is
set, and the collection sets it before it looks for a pushing deploy (each side writes, then reads
the other's, so at least one of them sees the other).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..integrations import engine, registry, storage
from ..models import Deploy, DeployLogChunk, DeployLogLine, Deployment
from . import bundles
from .deploys.log import log_compact

logger = logging.getLogger(__name__)
State = Deploy.State
GC_FLAG = registry.GC_FLAG


@dataclasses.dataclass
class PruneReport:
    deploys: int = 0
    logs: int = 0
    archives: int = 0
    images: int = 0
    bundles: int = 0
    packed: int = 0
    registry_gc: str = ""
    errors: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        text = (f"Pruned {self.deploys} deploy(s): {self.logs} log(s), {self.archives} archive(s), {self.images} image(s), "
                f"{self.bundles} DAG bundle(s); packed {self.packed} log(s).")
        if self.registry_gc:
            text += f" Registry garbage collection: {self.registry_gc}."
        return text + "".join(f"\nerror: {e}" for e in self.errors)


@dataclasses.dataclass
class Kept:
    deploys: set[int]
    digests: set[str]
    bundles: set[str]


def kept(deployment: Deployment, now: datetime) -> Kept:
    """The deploys a deployment keeps whole, and the image digests and DAG bundles they run."""
    window = now - timedelta(days=settings.AIRDOCK_RETENTION_DAYS)
    deploys = list(deployment.deploys.order_by("created_at", "pk"))
    succeeded = [d for d in deploys if d.state == State.SUCCEEDED]
    targets = {d.pk for d in succeeded[-settings.AIRDOCK_RETENTION_KEEP_DEPLOYS:] if settings.AIRDOCK_RETENTION_KEEP_DEPLOYS}
    targets |= {d.pk for d in deploys if d.is_active or (d.finished_at or d.created_at) >= window}
    if deployment.current_deploy_id:
        targets.add(deployment.current_deploy_id)
    result = Kept(set(targets), {deployment.desired_image_digest}, {deployment.desired_dag_bundle_version})
    image = bundle = None
    for deploy in succeeded:  # what a rollback to each kept one deploys (as deployment_rollback finds it)
        image = deploy if deploy.image_digest else image
        bundle = deploy if deploy.dag_bundle_version else bundle
        if deploy.pk in targets:
            for source in filter(None, (image, bundle)):
                result.deploys.add(source.pk)
            result.digests.add(image.image_digest if image else "")
            result.bundles.add(bundle.dag_bundle_version if bundle else "")
    for deploy in deploys:
        if deploy.pk in result.deploys:
            result.digests.add(deploy.image_digest)
            result.bundles.add(deploy.dag_bundle_version)
    result.digests.discard("")
    result.bundles.discard("")
    return result


def prune(*, now: datetime | None = None, collect_garbage: bool = True) -> PruneReport:
    now = now or timezone.now()
    report = PruneReport()
    for deployment in Deployment.objects.select_related("workspace__organization"):
        try:
            _prune_deployment(deployment, now, report)
        except Exception as exc:
            logger.exception("pruning %s failed", deployment)
            report.errors.append(f"{deployment.name}: {exc}")
    ended = DeployLogLine.objects.exclude(deploy__state__in=Deploy.ACTIVE_STATES).values_list("deploy_id", flat=True).distinct()
    for deploy_id in list(ended):  # a cancelled queued deploy, a run cut short: rows left unpacked
        report.packed += bool(log_compact(deploy_id))
    if collect_garbage and report.images:
        report.registry_gc = registry_collect_garbage()
    return report


def _prune_deployment(deployment: Deployment, now: datetime, report: PruneReport) -> None:
    keep = kept(deployment, now)
    deleted_digests: set[str] = set()
    deleted_bundles: set[str] = set()
    own = f"{settings.AIRDOCK_REGISTRY}/{deployment.workspace.organization.slug}/deployment-{deployment.pk}"
    prunable = deployment.deploys.exclude(pk__in=keep.deploys).exclude(state__in=Deploy.ACTIVE_STATES).filter(pruned_at__isnull=True)
    for deploy in prunable.order_by("created_at"):
        try:
            digest, version = deploy.image_digest, deploy.dag_bundle_version
            if digest and digest not in keep.digests and digest not in deleted_digests and deploy.image_repository == own:
                if deploy.image_tag:
                    try:
                        engine.image_remove(f"{deploy.image_repository}:{deploy.image_tag}")
                    except engine.DockerError as exc:  # a container still uses it: its tag goes next time
                        logger.info("keeping the engine's %s:%s for now: %s", deploy.image_repository, deploy.image_tag, exc)
                registry.manifest_delete(deploy.image_repository, digest)
                deleted_digests.add(digest)
                report.images += 1
            if version and version not in keep.bundles and version not in deleted_bundles:
                for suffix in (".tar.gz", ".manifest.json"):
                    storage.delete(bundles.bundle_key(deployment, version, suffix))
                deleted_bundles.add(version)
                report.bundles += 1
            if deploy.archive:
                deploy.archive.delete(save=False)
                report.archives += 1
            lines, _ = DeployLogLine.objects.filter(deploy=deploy).delete()
            chunks, _ = DeployLogChunk.objects.filter(deploy=deploy).delete()
            report.logs += bool(lines or chunks)
        except Exception as exc:
            logger.warning("pruning deploy %s failed", deploy.pk, exc_info=True)
            report.errors.append(f"deploy {deploy.pk}: {exc}")
            continue
        Deploy.objects.filter(pk=deploy.pk).update(pruned_at=now, archive="")
        report.deploys += 1


def registry_collect_garbage() -> str:
    """Run the registry's garbage collection unless a deploy is pushing (then the next prune does)."""
    command = settings.AIRDOCK_REGISTRY_GC_COMMAND
    if not command:
        return "not configured (AIRDOCK_REGISTRY_GC_COMMAND)"
    import django_rq

    redis = django_rq.get_connection("deploys")
    if not redis.set(GC_FLAG, str(time.time()), nx=True, ex=3600):
        return "skipped: another one is running"
    try:
        pushing = list(Deploy.objects.filter(Q(state=State.PUSHING)).values_list("pk", flat=True))
        if pushing:
            return f"skipped: deploy {pushing[0]} is pushing (the next prune collects)"
        return registry.garbage_collect(command) or "done"
    except registry.PushError as exc:
        logger.warning("%s", exc)
        return str(exc)
    finally:
        redis.delete(GC_FLAG)
