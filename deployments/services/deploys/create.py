"""Creating deploys: validate the request, store its archive, plan its steps, queue its job.

Raise `Invalid` with a message for the user when a request cannot be deployed, and
`DeployConflict` while another deploy of the deployment is active.
"""
from __future__ import annotations

import fnmatch
import logging
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.db import IntegrityError, transaction

from portal.errors import Conflict, Invalid, Unavailable
from tenancy.audit import Actor, audit_record

from ... import events
from ...integrations import engine
from ...models import ApiToken, Deploy, Deployment, DeployStep
from .. import archives
from .plan import archive_requirement, clean_test_path, deploy_plan
from .states import deploy_finish, deploys_fail_lost

logger = logging.getLogger(__name__)
State = Deploy.State
Kind = Deploy.Kind
JOB = "deployments.jobs.run_deploy"  # enqueued by name: jobs import services, never the reverse


class DeployConflict(Conflict):
    def __init__(self, active: Deploy) -> None:
        self.active = active
        super().__init__(
            f"Deploy {active.pk} is in progress for {active.deployment.name} "
            f"({active.get_state_display().lower()}); wait for it to finish or cancel it."
        )

    def payload(self) -> dict:
        return {**super().payload(), "active_deploy_id": self.active.pk}


def _check_kind(*, deployment: Deployment, kind: str, image_name: str, has_archive: bool) -> str | None:
    """Validate the kind against the deployment; return what the archive must hold (None: no archive)."""
    if kind not in Kind.values:
        raise Invalid(f"Unknown deploy kind {kind!r}; use one of {', '.join(k.lower() for k in Kind.values)}.")
    if kind == Kind.DAGS:
        if not deployment.dag_deploy_enabled:
            raise Invalid(
                "DAG-only deploys are turned off for this deployment (its DAGs are baked into the image): "
                "make a full deploy, or turn DAG-only deploys on in the deployment's settings."
            )
        if not deployment.desired_image:
            raise Invalid("A DAG-only deploy needs an image to run in, and this deployment has none yet: make a full deploy first.")
        if image_name:
            raise Invalid("A DAG-only deploy does not take an image name.")
    if kind == Kind.IMAGE and not deployment.dag_deploy_enabled:
        raise Invalid(
            "Image-only deploys keep the current DAGs apart from the image, which needs DAG-only deploys: "
            "turn them on in the deployment's settings, or make a full deploy."
        )
    if image_name:
        _check_prebuilt_image(deployment=deployment, image_name=image_name)
        if kind == Kind.IMAGE_AND_DAGS and deployment.dag_deploy_enabled and not has_archive:
            raise Invalid("This deployment takes its DAGs apart from the image: upload the project with the prebuilt image, or choose an image-only deploy.")
        return archive_requirement(kind=kind, image_name=image_name) if has_archive else None
    if not has_archive:
        raise Invalid("Upload the Astro project as a .zip or .tar.gz archive.")
    return archive_requirement(kind=kind, image_name=image_name)


def _check_prebuilt_image(*, deployment: Deployment, image_name: str) -> None:
    """A prebuilt image must exist, be this deployment's own (in its repository) or one the
    operator allows (AIRDOCK_PREBUILT_IMAGES_ALLOWED), and belong to no other deployment.

    Decided on the image the name resolves to, with all its names, not on the spelling asked for;
    ids and id prefixes (which the engine resolves to any image on it) are not accepted at all.
    """
    last = image_name.rsplit("/", 1)[-1]
    if image_name.lower().startswith("sha256:") or (":" not in last and "@" not in last):
        raise Invalid(
            f"Name the prebuilt image as repository:tag or repository@sha256:digest (got {image_name!r}); image ids are not accepted."
        )
    own = f"{settings.AIRDOCK_REGISTRY}/{deployment.workspace.organization.slug}/deployment-{deployment.pk}".lower()
    own_build = f"airdock-build/deployment-{deployment.pk}"
    registry = settings.AIRDOCK_REGISTRY.lower() + "/"

    def foreign(name: str) -> bool:
        repository = name.lower().split("@")[0]
        repository = repository.rsplit(":", 1)[0] if ":" in repository.rsplit("/", 1)[-1] else repository
        return (repository.startswith(registry) and repository != own) or (
            repository.startswith("airdock-build/") and repository != own_build
        )

    if foreign(image_name):  # by its spelling, before the engine is even asked
        raise Invalid(f"The image {image_name!r} belongs to another deployment; deploy your own image.")
    try:
        names = engine.image_names(image_name)
    except engine.DockerError as exc:
        raise Invalid(f"Cannot look up the image {image_name!r}: {exc.message}") from exc
    if names is None:
        raise Invalid(f"The image {image_name!r} is not in the Docker engine; build or pull it there first.")
    if any(n.lower().startswith((own + ":", own + "@")) for n in names):
        return  # this deployment's own image (an identical build of another deployment's changes nothing)
    if any(foreign(n) for n in names):  # by what it resolves to: another deployment's image, renamed
        raise Invalid(f"The image {image_name!r} belongs to another deployment; deploy your own image.")
    if not any(fnmatch.fnmatchcase(image_name, pattern) for pattern in settings.AIRDOCK_PREBUILT_IMAGES_ALLOWED):
        raise Invalid(
            f"The image {image_name!r} is neither in this deployment's repository ({own}) nor among the images "
            "the operator allows (AIRDOCK_PREBUILT_IMAGES_ALLOWED)."
        )


def _spool(upload: IO[bytes]) -> Path:
    handle = tempfile.NamedTemporaryFile(prefix="airdock-upload-", delete=False)
    with handle:
        upload.seek(0)
        shutil.copyfileobj(upload, handle)
    return Path(handle.name)


def _refuse_if_active(deployment: Deployment) -> None:
    active = deployment.deploys.filter(state__in=Deploy.ACTIVE_STATES).first()
    if active:
        raise DeployConflict(active)


def deploy_for_idempotency_key(
    *, deployment: Deployment, key: str, kind: str, user=None, token: ApiToken | None = None
) -> Deploy | None:
    """The deploy an earlier request with this Idempotency-Key made, or None.

    Raise Invalid when the key was used by another caller or for another kind of deploy.
    """
    if not key:
        return None
    earlier = deployment.deploys.filter(idempotency_key=key).first()
    if earlier is None:
        return None
    same_caller = earlier.created_by_token_id == (token.pk if token else None) and (
        earlier.created_by_id == (user.pk if user else None)
    )
    if not same_caller or earlier.kind != kind.upper():
        raise Invalid(
            f"The Idempotency-Key {key!r} was already used for deploy {earlier.pk}, by another "
            "caller or for another kind of deploy; send a new key for a new request."
        )
    return earlier


def deploy_create(
    *,
    deployment: Deployment,
    user: AbstractBaseUser | None,
    kind: str = Kind.IMAGE_AND_DAGS,
    archive: IO[bytes] | None = None,
    image_name: str = "",
    description: str = "",
    force: bool = False,
    run_pytest: bool | None = None,
    test_path: str = "",
    source_deploy: Deploy | None = None,
    token: ApiToken | None = None,
    ip: str | None = None,
    idempotency_key: str = "",
    git_commit: str = "",
) -> Deploy:
    """Validate a deploy request, store its archive and queue it (the job starts after commit)."""
    deployment.refresh_from_db()  # decide on what the deployment runs now, not on a stale copy
    idempotency_key = idempotency_key.strip()[:128]
    earlier = deploy_for_idempotency_key(deployment=deployment, key=idempotency_key, kind=kind, user=user, token=token)
    if earlier is not None:
        return earlier  # a retry of a request that already created this deploy
    require_queue()
    deploys_fail_lost(deployment=deployment)
    kind = kind.upper()
    image_name = image_name.strip()
    reuse_archive = source_deploy.archive.name if source_deploy is not None and archive is None else ""
    require = _check_kind(
        deployment=deployment, kind=kind, image_name=image_name, has_archive=bool(archive or reuse_archive)
    )
    test_path = clean_test_path(test_path)
    if run_pytest is None:
        run_pytest = deployment.pytest_by_default or bool(test_path)
    _refuse_if_active(deployment)

    spooled: Path | None = None
    try:
        if archive is not None:
            upload = _spool(archive)
            try:
                info = archives.archive_inspect(upload, require=require or "dags")
                spooled = upload.with_suffix(".accepted.tar.gz")
                archives.archive_repack(upload, info, spooled)  # kept: the accepted entries only
            finally:
                upload.unlink(missing_ok=True)
        deploy = Deploy(
            deployment=deployment, kind=kind, force=force, run_pytest=run_pytest, test_path=test_path,
            image_name=image_name, description=description[:500], created_by=user, source_deploy=source_deploy,
            job_id=f"deploy-{secrets.token_hex(8)}", created_by_token=token,
            idempotency_key=idempotency_key, git_commit=git_commit,
        )
        if spooled is not None:
            deploy.archive_sha256 = archives.sha256_file(spooled)
            with open(spooled, "rb") as fh:
                deploy.archive.save(f"deployment-{deployment.pk}.archive", File(fh), save=False)
        elif reuse_archive:
            deploy.archive.name = reuse_archive
            deploy.archive_sha256 = source_deploy.archive_sha256
        try:
            _queue(deploy, action="deploy.create", actor=Actor(user=user, token=token, ip=ip),
                   kind=kind, force=force, description=deploy.description, git_commit=git_commit)
        except DeployConflict:
            if spooled is not None and deploy.archive:
                deploy.archive.storage.delete(deploy.archive.name)
            # The same request sent again at the same moment (a client's retry): its deploy is theirs too.
            same = deploy_for_idempotency_key(deployment=deployment, key=idempotency_key, kind=kind, user=user, token=token)
            if same is not None:
                return same
            raise
    finally:
        if spooled is not None:
            spooled.unlink(missing_ok=True)
    return deploy


def _queue(deploy: Deploy, *, action: str, actor: Actor, **detail) -> None:
    """Save a new deploy with its planned steps and an audit entry; enqueue it once committed.

    Raise DeployConflict when the database refuses a second active deploy (a race).
    """
    deployment = deploy.deployment
    try:
        with transaction.atomic():
            deploy.save()
            DeployStep.objects.bulk_create(
                DeployStep(deploy=deploy, name=name, position=i) for i, name in enumerate(deploy_plan(deploy))
            )
            audit_record(organization=deployment.workspace.organization, action=action,
                         target=f"deploy {deploy.pk} of {deployment.name}", actor=actor, **detail)
            transaction.on_commit(lambda: deploy_enqueue(deploy=deploy))
            events.deployment_changed(deployment)
    except IntegrityError:
        active = deployment.deploys.filter(state__in=Deploy.ACTIVE_STATES).first()
        if active:
            raise DeployConflict(active) from None
        raise


def require_queue() -> None:
    """Refuse a deploy at once when its queue (Redis) does not answer: nothing is made, so nothing
    is left QUEUED (503)."""
    import django_rq

    try:
        django_rq.get_connection("deploys").ping()
    except Exception as exc:
        raise Unavailable("The deploy queue (Redis) does not answer, so no deploy was made: start Redis "
                          f"(make services) and try again. ({exc.__class__.__name__})") from exc


def deploy_enqueue(*, deploy: Deploy) -> None:
    """Put the deploy's job on the deploys queue; if the queue is unreachable, fail the deploy."""
    import django_rq

    try:
        django_rq.get_queue("deploys").enqueue(
            JOB, deploy.pk, job_id=deploy.job_id,
            job_timeout=settings.AIRDOCK_DEPLOY_JOB_TIMEOUT, failure_ttl=7 * 24 * 3600,
        )
    except Exception as exc:
        logger.exception("cannot enqueue deploy %s", deploy.pk)
        deploy_finish(deploy.pk, State.FAILED, f"The deploy could not be queued (is Redis running?): {exc}")


def _last_succeeded_with(deployment: Deployment, upto: Deploy, field: str) -> Deploy | None:
    return (
        deployment.deploys.filter(state=State.SUCCEEDED, created_at__lte=upto.created_at)
        .exclude(**{field: ""}).order_by("-created_at", "-pk").first()
    )


def deployment_rollback(
    *, deployment: Deployment, deploy_id: int, user: AbstractBaseUser | None = None,
    token: ApiToken | None = None, ip: str | None = None,
) -> Deploy:
    """Deploy again what ran after an earlier deploy: its image digest and its DAG bundle."""
    deployment.refresh_from_db()
    target = deployment.deploys.filter(pk=deploy_id).first()
    if target is None:
        raise Invalid(f"Deploy {deploy_id} is not a deploy of {deployment.name}.")
    if target.state != State.SUCCEEDED:
        raise Invalid(f"Deploy {target.pk} did not succeed ({target.get_state_display().lower()}); roll back to one that did.")
    if target.pruned_at:
        raise Invalid(f"Deploy {target.pk} was pruned on {target.pruned_at:%Y-%m-%d} (retention keeps the last "
                      f"{settings.AIRDOCK_RETENTION_KEEP_DEPLOYS} successful deploys and those of the last "
                      f"{settings.AIRDOCK_RETENTION_DAYS} days): its image or DAG bundle may be gone. Roll back to a newer deploy.")
    image = _last_succeeded_with(deployment, target, "image_digest")
    bundle = _last_succeeded_with(deployment, target, "dag_bundle_version")
    if image is None:
        raise Invalid(f"No image had been deployed by deploy {target.pk}; there is nothing to roll back to.")
    if not deployment.dag_deploy_enabled and bundle is not None and bundle.created_at > image.created_at:
        raise Invalid(
            f"Deploy {target.pk} ran its DAGs as a separate bundle, but DAG-only deploys are now off for "
            f"{deployment.name}: turn them on to roll back to it, or make a full deploy."
        )
    if deployment.dag_deploy_enabled and bundle is None:
        raise Invalid(f"Deploy {target.pk} has no DAG bundle, and this deployment takes its DAGs as a bundle.")
    _refuse_if_active(deployment)
    require_queue()
    deploy = Deploy(
        deployment=deployment, kind=Kind.IMAGE_AND_DAGS, is_rollback=True, source_deploy=target,
        description=f"Rollback to deploy {target.pk}", created_by=user, created_by_token=token,
        image_repository=image.image_repository, image_tag=image.image_tag, image_digest=image.image_digest,
        airflow_version=image.airflow_version, runtime_requested=image.runtime_requested,
        runtime_image_used=image.runtime_image_used,
        dag_bundle_version=bundle.dag_bundle_version if bundle and deployment.dag_deploy_enabled else "",
        job_id=f"deploy-{secrets.token_hex(8)}",
    )
    _queue(deploy, action="deploy.rollback", actor=Actor(user=user, token=token, ip=ip),
           to_deploy=target.pk, image_digest=deploy.image_digest, dag_bundle_version=deploy.dag_bundle_version)
    return deploy


def deploy_redeploy(*, deploy: Deploy, user: AbstractBaseUser | None) -> Deploy:
    """Deploy an earlier deploy's uploaded project again ("trigger a build")."""
    if not deploy.archive:
        if deploy.pruned_at:
            raise Invalid(f"Deploy {deploy.pk} was pruned on {deploy.pruned_at:%Y-%m-%d}: its uploaded project is gone "
                          f"(AIRDOCK_RETENTION_DAYS). Upload the project again.")
        raise Invalid(f"Deploy {deploy.pk} has no uploaded project to build again.")
    return deploy_create(
        deployment=deploy.deployment, user=user, kind=deploy.kind, image_name=deploy.image_name,
        description=f"Build of deploy {deploy.pk} again" + (f": {deploy.description}" if deploy.description else ""),
        force=deploy.force, run_pytest=deploy.run_pytest, test_path=deploy.test_path, source_deploy=deploy,
    )
