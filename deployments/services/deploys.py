"""Deploys: create (validate, store, enqueue on commit), execute (the RQ job's work), activate,
cancel, and fail deploys whose worker was lost. Only these functions change a deploy's state."""
from __future__ import annotations

import contextlib
import json
import logging
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Iterator
from xml.etree import ElementTree

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import events
from ..integrations import docker as engine
from ..models import ApiToken, Deploy, Deployment, DeployStep
from . import archives, bundles, runtimes
from .audit import Actor, audit_record
from .deploylog import DeployLog

logger = logging.getLogger(__name__)
State = Deploy.State
Kind = Deploy.Kind
CHECK_DIR = "/tmp/airdock-check"
PROJECT_IN_CHECK = f"{CHECK_DIR}/project"
# Runs inside the deploy's image, never imported here.
PARSE_SCRIPT = (Path(__file__).resolve().parent.parent / "checks" / "parse_dags.py").read_bytes()
PARSE_MARK = "AIRDOCK_PARSE_RESULT "


class DeployError(Exception):
    """A deploy that cannot be made or went wrong; the message tells the user what to do."""


class DeployConflict(DeployError):
    def __init__(self, active: Deploy) -> None:
        self.active = active
        super().__init__(
            f"Deploy {active.pk} is in progress for {active.deployment.name} "
            f"({active.get_state_display().lower()}); wait for it to finish or cancel it."
        )


class CheckFailed(Exception):
    """A check (DAG parse, pytest) failed; fatal unless the deploy is forced."""


class Cancelled(Exception):
    pass


# --------------------------------------------------------------------------------------------
# create


def deploy_plan(deploy: Deploy) -> list[str]:
    """The steps a deploy goes through, in order."""
    if deploy.is_rollback:
        return [State.ACTIVATING]
    steps: list[str] = []
    if deploy.archive:
        steps.append(State.UNPACKING)
    if deploy.kind != Kind.DAGS:
        steps.append(State.BUILDING)
    steps.append(State.PARSING)
    if deploy.run_pytest:
        steps.append(State.TESTING)
    if deploy.kind != Kind.DAGS:
        steps.append(State.PUSHING)
    if deploy.archive and deploy.kind in (Kind.DAGS, Kind.IMAGE_AND_DAGS):
        steps.append(State.UPLOADING_DAGS)
    steps.append(State.ACTIVATING)
    return steps


def _clean_test_path(test_path: str) -> str:
    if not test_path:
        return ""
    path = PurePosixPath(test_path.strip().lstrip("./"))
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] != "tests":
        raise DeployError(f"The test path {test_path!r} must lie under tests/, e.g. tests/dags.")
    return str(path)


def _check_kind(
    *, deployment: Deployment, kind: str, image_name: str, has_archive: bool
) -> str | None:
    """Validate the kind against the deployment; return what the archive must hold."""
    if kind not in Kind.values:
        raise DeployError(f"Unknown deploy kind {kind!r}; use one of {', '.join(k.lower() for k in Kind.values)}.")
    if kind == Kind.DAGS:
        if not deployment.dag_deploy_enabled:
            raise DeployError(
                "DAG-only deploys are turned off for this deployment (its DAGs are baked into the image): "
                "make a full deploy, or turn DAG-only deploys on in the deployment's settings."
            )
        if not deployment.desired_image:
            raise DeployError("A DAG-only deploy needs an image to run in, and this deployment has none yet: make a full deploy first.")
        if image_name:
            raise DeployError("A DAG-only deploy does not take an image name.")
    if kind == Kind.IMAGE and not deployment.dag_deploy_enabled:
        raise DeployError(
            "Image-only deploys keep the current DAGs apart from the image, which needs DAG-only deploys: "
            "turn them on in the deployment's settings, or make a full deploy."
        )
    if image_name:
        _check_prebuilt_image(deployment=deployment, image_name=image_name)
        needs_dags = kind == Kind.IMAGE_AND_DAGS and deployment.dag_deploy_enabled
        if needs_dags and not has_archive:
            raise DeployError("This deployment takes its DAGs apart from the image: upload the project with the prebuilt image, or choose an image-only deploy.")
        return "dags" if has_archive else None
    if not has_archive:
        raise DeployError("Upload the Astro project as a .zip or .tar.gz archive.")
    return "dags" if kind == Kind.DAGS else "project"


def _check_prebuilt_image(*, deployment: Deployment, image_name: str) -> None:
    """A prebuilt image must exist and must not be another deployment's build or push.

    Only names are accepted: the engine also resolves image ids and id prefixes, which would reach
    any image on it, other tenants' builds included.
    """
    last = image_name.rsplit("/", 1)[-1]
    if image_name.lower().startswith("sha256:") or (":" not in last and "@" not in last):
        raise DeployError(
            f"Name the prebuilt image as repository:tag or repository@sha256:digest (got {image_name!r}); image ids are not accepted."
        )
    name = image_name.lower()
    own = f"{settings.AIRDOCK_REGISTRY}/{deployment.workspace.organization.slug}/deployment-{deployment.pk}".lower()
    foreign = name.startswith("airdock-build/") or (
        name.startswith(f"{settings.AIRDOCK_REGISTRY.lower()}/") and not name.startswith((own + ":", own + "@"))
    )
    if foreign:
        raise DeployError(f"The image {image_name!r} belongs to another deployment; deploy your own image.")
    try:
        exists = engine.image_exists(image_name)
    except engine.DockerError as exc:
        raise DeployError(f"Cannot look up the image {image_name!r}: {exc}") from exc
    if not exists:
        raise DeployError(f"The image {image_name!r} is not in the Docker engine; build or pull it there first.")


def _spool(upload: IO[bytes]) -> Path:
    handle = tempfile.NamedTemporaryFile(prefix="airdock-upload-", delete=False)
    with handle:
        upload.seek(0)
        shutil.copyfileobj(upload, handle)
    return Path(handle.name)


def deploy_for_idempotency_key(
    *, deployment: Deployment, key: str, kind: str, user=None, token: ApiToken | None = None
) -> Deploy | None:
    """The deploy an earlier request with this Idempotency-Key made, or None.

    Raise DeployError when the key was used by another caller or for another kind of deploy.
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
        raise DeployError(
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
    """Validate a deploy request, store its archive and queue it (the job starts after commit).

    Raise DeployError with a message for the user when the request cannot be deployed, and
    DeployConflict while another deploy of the deployment is active.
    """
    deployment.refresh_from_db()  # decide on what the deployment runs now, not on a stale copy
    idempotency_key = idempotency_key.strip()[:128]
    earlier = deploy_for_idempotency_key(deployment=deployment, key=idempotency_key, kind=kind, user=user, token=token)
    if earlier is not None:
        return earlier  # a retry of a request that already created this deploy
    deploys_fail_lost(deployment=deployment)
    kind = kind.upper()
    image_name = image_name.strip()
    reuse_archive = source_deploy.archive.name if source_deploy is not None and archive is None else ""
    require = _check_kind(
        deployment=deployment, kind=kind, image_name=image_name, has_archive=bool(archive or reuse_archive)
    )
    test_path = _clean_test_path(test_path)
    if run_pytest is None:
        run_pytest = deployment.pytest_by_default or bool(test_path)
    active = deployment.deploys.filter(state__in=Deploy.ACTIVE_STATES).first()
    if active:
        raise DeployConflict(active)

    spooled: Path | None = None
    try:
        if archive is not None:
            spooled = _spool(archive)
            try:
                archives.archive_inspect(spooled, require=require or "dags")
            except archives.ArchiveError as exc:
                raise DeployError(str(exc)) from exc
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


def deploy_enqueue(*, deploy: Deploy) -> None:
    """Put the deploy's job on the deploys queue; if the queue is unreachable, fail the deploy."""
    import django_rq

    from .. import jobs

    deploy_id = deploy.pk
    try:
        django_rq.get_queue("deploys").enqueue(
            jobs.run_deploy, deploy_id, job_id=deploy.job_id,
            job_timeout=settings.AIRDOCK_DEPLOY_JOB_TIMEOUT, failure_ttl=7 * 24 * 3600,
        )
    except Exception as exc:  # noqa: BLE001 - Redis down: the deploy must not stay queued forever
        logger.exception("cannot enqueue deploy %s", deploy_id)
        _finish(deploy_id, State.FAILED, f"The deploy could not be queued (is Redis running?): {exc}")


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
        raise DeployError(f"Deploy {deploy_id} is not a deploy of {deployment.name}.")
    if target.state != State.SUCCEEDED:
        raise DeployError(f"Deploy {target.pk} did not succeed ({target.get_state_display().lower()}); roll back to one that did.")
    image = _last_succeeded_with(deployment, target, "image_digest")
    bundle = _last_succeeded_with(deployment, target, "dag_bundle_version")
    if image is None:
        raise DeployError(f"No image had been deployed by deploy {target.pk}; there is nothing to roll back to.")
    if not deployment.dag_deploy_enabled and bundle is not None and bundle.created_at > image.created_at:
        raise DeployError(
            f"Deploy {target.pk} ran its DAGs as a separate bundle, but DAG-only deploys are now off for "
            f"{deployment.name}: turn them on to roll back to it, or make a full deploy."
        )
    if deployment.dag_deploy_enabled and bundle is None:
        raise DeployError(f"Deploy {target.pk} has no DAG bundle, and this deployment takes its DAGs as a bundle.")
    active = deployment.deploys.filter(state__in=Deploy.ACTIVE_STATES).first()
    if active:
        raise DeployConflict(active)
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
        raise DeployError(f"Deploy {deploy.pk} has no uploaded project to build again.")
    return deploy_create(
        deployment=deploy.deployment, user=user, kind=deploy.kind, image_name=deploy.image_name,
        description=f"Build of deploy {deploy.pk} again" + (f": {deploy.description}" if deploy.description else ""),
        force=deploy.force, run_pytest=deploy.run_pytest, test_path=deploy.test_path, source_deploy=deploy,
    )


# --------------------------------------------------------------------------------------------
# state changes


def _finish(deploy_id: int, state: str, error: str = "") -> bool:
    """Move an active deploy to a final state; mark its unfinished steps. Return False if it was final already."""
    now = timezone.now()
    with transaction.atomic():
        done = Deploy.objects.filter(pk=deploy_id, state__in=Deploy.ACTIVE_STATES).update(
            state=state, finished_at=now, error=error[:10_000]
        )
        if done:
            step_state = DeployStep.State.FAILED if state == State.FAILED else DeployStep.State.SKIPPED
            DeployStep.objects.filter(deploy_id=deploy_id, state=DeployStep.State.RUNNING).update(
                state=step_state, finished_at=now, message=error[:2000]
            )
            DeployStep.objects.filter(deploy_id=deploy_id, state=DeployStep.State.PENDING).update(
                state=DeployStep.State.SKIPPED
            )
            deploy = Deploy.objects.select_related("deployment").get(pk=deploy_id)
            events.deploy_state(deploy)
            events.deployment_changed(deploy.deployment)
    return bool(done)


def deploy_cancel(*, deploy: Deploy, user: AbstractBaseUser | None = None) -> bool:
    """Cancel an active deploy. A running one stops at its next log flush or step; nothing changes."""
    who = f" by {user.get_username()}" if user is not None else ""
    if not _finish(deploy.pk, State.CANCELLED, f"Cancelled{who}."):
        return False
    audit_record(organization=deploy.deployment.workspace.organization, action="deploy.cancel",
                 target=f"deploy {deploy.pk} of {deploy.deployment.name}", actor=Actor(user=user))
    with contextlib.suppress(Exception):
        import django_rq
        from rq.job import Job

        Job.fetch(deploy.job_id, connection=django_rq.get_connection("deploys")).cancel()
    return True


def deploys_fail_lost(*, deployment: Deployment | None = None) -> int:
    """Fail active deploys whose job is gone (worker killed, Redis flushed), so none stays "in progress"."""
    import django_rq
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    active = Deploy.objects.filter(state__in=Deploy.ACTIVE_STATES)
    if deployment is not None:
        active = active.filter(deployment=deployment)
    connection = django_rq.get_connection("deploys")
    failed = 0
    for deploy in active.only("pk", "created_at", "job_id"):
        try:
            status = Job.fetch(deploy.job_id, connection=connection).get_status(refresh=True) if deploy.job_id else None
        except NoSuchJobError:
            status = None
        except Exception:  # noqa: BLE001 - Redis unreachable: cannot judge, leave it
            return failed
        if status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
            continue
        if status is None and (timezone.now() - deploy.created_at).total_seconds() < 30:
            continue  # enqueued on commit a moment ago
        what = f"its job ended as {status}" if status else "its job is gone"
        if _finish(deploy.pk, State.FAILED, f"The worker running this deploy stopped ({what}); nothing was changed. Deploy again."):
            failed += 1
    return failed


@transaction.atomic
def deploy_activate(*, deploy: Deploy) -> None:
    """Make the deployment run what this deploy produced: the one place desired state changes."""
    deployment = Deployment.objects.select_for_update().get(pk=deploy.deployment_id)
    now = timezone.now()
    moved = Deploy.objects.filter(pk=deploy.pk, state=State.ACTIVATING).update(state=State.SUCCEEDED, finished_at=now)
    if not moved:
        raise Cancelled()
    fields = ["current_deploy", "status", "status_reason", "updated_at"]
    if deploy.image_digest:
        deployment.desired_image_repository = deploy.image_repository
        deployment.desired_image_tag = deploy.image_tag
        deployment.desired_image_digest = deploy.image_digest
        deployment.desired_airflow_version = deploy.airflow_version
        fields += ["desired_image_repository", "desired_image_tag", "desired_image_digest", "desired_airflow_version"]
    if deploy.dag_bundle_version:
        deployment.desired_dag_bundle_version = deploy.dag_bundle_version
        fields.append("desired_dag_bundle_version")
    deployment.current_deploy = deploy
    deployment.status = Deployment.Status.DEPLOYING
    deployment.status_reason = f"Deploy {deploy.pk} activated; waiting for the Airflow components to run it."
    deployment.save(update_fields=fields)
    DeployStep.objects.filter(deploy=deploy, name=State.ACTIVATING).update(
        state=DeployStep.State.SUCCEEDED, finished_at=now
    )
    deploy.state, deploy.finished_at = State.SUCCEEDED, now
    events.deploy_state(deploy, DeployStep.objects.get(deploy=deploy, name=State.ACTIVATING))
    events.deployment_changed(deployment)


# --------------------------------------------------------------------------------------------
# execute


def deploy_execute(*, deploy_id: int) -> None:
    """Run a queued deploy to its end. Whatever happens, it ends SUCCEEDED, FAILED or CANCELLED."""
    deploy = Deploy.objects.select_related("deployment__workspace__organization").get(pk=deploy_id)
    if deploy.state != State.QUEUED:
        if deploy.is_active:  # this job ran before and its worker died mid-way
            _finish(deploy_id, State.FAILED, "The worker running this deploy stopped before it ended; nothing was changed. Deploy again.")
        return
    if not Deploy.objects.filter(pk=deploy_id, state=State.QUEUED).update(started_at=timezone.now()):
        return
    deploy.refresh_from_db()
    _Run(deploy).execute()


@dataclass
class _Paths:
    root: Path
    archive: Path
    project: Path


class _Run:
    def __init__(self, deploy: Deploy) -> None:
        self.deploy = deploy
        self.deployment = deploy.deployment
        self.log = DeployLog(deploy, on_flush=self._on_flush)
        self.image = ""
        self.steps = {s.name: s for s in deploy.steps.all()}

    # -- helpers ---------------------------------------------------------------------------
    def _on_flush(self, lines: list) -> None:
        events.deploy_log(self.deploy.pk, lines)
        self._check_cancelled()

    def _check_cancelled(self) -> None:
        if not Deploy.objects.filter(pk=self.deploy.pk, state__in=Deploy.ACTIVE_STATES).exists():
            raise Cancelled()

    def _save(self, *fields: str) -> None:
        Deploy.objects.filter(pk=self.deploy.pk).update(**{f: getattr(self.deploy, f) for f in fields})

    def _warn(self, message: str) -> None:
        self.deploy.warnings.append(message)
        self._save("warnings")
        self.log(f"WARNING: {message}")

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[DeployStep]:
        step = self.steps[name]
        self.log.flush()
        self.log.step = name
        now = timezone.now()
        if not Deploy.objects.filter(pk=self.deploy.pk, state__in=Deploy.ACTIVE_STATES).update(state=name):
            raise Cancelled()
        self.deploy.state = name
        step.state, step.started_at = DeployStep.State.RUNNING, now
        step.save(update_fields=["state", "started_at"])
        events.deploy_state(self.deploy, step)
        self.log(f"==> {step.get_name_display()}")
        try:
            yield step
        except CheckFailed as exc:
            if not self.deploy.force:
                raise
            step.state, step.message = DeployStep.State.WARNING, str(exc)
            self._warn(f"{exc} (forced: the deploy goes on)")
        else:
            if step.state == DeployStep.State.RUNNING:
                step.state = DeployStep.State.SUCCEEDED
        self.log.flush()
        step.finished_at = timezone.now()
        step.save(update_fields=["state", "finished_at", "message"])
        if name != State.ACTIVATING:  # activation reports itself, with the deploy's final state
            events.deploy_state(self.deploy, step)

    # -- the run ---------------------------------------------------------------------------
    def execute(self) -> None:
        root = Path(tempfile.mkdtemp(prefix=f"airdock-deploy-{self.deploy.pk}-"))
        paths = _Paths(root=root, archive=root / "upload", project=root / "project")
        paths.project.mkdir()
        try:
            self._run(paths)
        except Cancelled:
            self.log.step = ""
            self.log("Deploy cancelled; nothing was changed.")
        except (CheckFailed, DeployError, engine.DockerError, archives.ArchiveError, bundles.BundleUploadError) as exc:
            self._fail(str(exc))
        except BaseException as exc:  # the job's time limit, a bug: still never left in progress
            logger.exception("deploy %s failed unexpectedly", self.deploy.pk)
            self._fail(f"The deploy stopped unexpectedly: {exc.__class__.__name__}: {exc}")
            if not isinstance(exc, Exception):
                raise
        finally:
            with contextlib.suppress(Exception):
                self.log.close()
            shutil.rmtree(root, ignore_errors=True)

    def _fail(self, message: str) -> None:
        with contextlib.suppress(Cancelled, Exception):
            self.log(f"ERROR: {message}")
            self.log("The deploy failed; the deployment keeps running what it ran before.")
            self.log.close()
        _finish(self.deploy.pk, State.FAILED, message)

    def _run(self, paths: _Paths) -> None:
        if self.deploy.is_rollback:
            with self.step(State.ACTIVATING):
                self._verify_rollback()
                self.log(self._activation_summary())
                self.log.flush()
                deploy_activate(deploy=self.deploy)
            self.log.step = ""
            self.log(f"Rolled back to deploy {self.deploy.source_deploy_id}.")
            return
        if State.UNPACKING in self.steps:
            with self.step(State.UNPACKING):
                self._unpack(paths)
        if State.BUILDING in self.steps:
            with self.step(State.BUILDING) as step:
                self._build(paths, step)
        else:
            self.image = self.deployment.desired_image
            self._ensure_local(self.image)
        with self.step(State.PARSING):
            self._parse(paths)
        if State.TESTING in self.steps:
            with self.step(State.TESTING):
                self._pytest(paths)
        if State.PUSHING in self.steps:
            with self.step(State.PUSHING):
                self._push()
        if State.UPLOADING_DAGS in self.steps:
            with self.step(State.UPLOADING_DAGS):
                self._upload_dags(paths)
        with self.step(State.ACTIVATING):
            self.log(self._activation_summary())
            self.log.flush()
            deploy_activate(deploy=self.deploy)
        self.log.step = ""
        self.log(f"Deploy {self.deploy.pk} succeeded ({self.deploy.get_kind_display().lower()}).")

    # -- steps -----------------------------------------------------------------------------
    def _unpack(self, paths: _Paths) -> None:
        with self.deploy.archive.open("rb") as src, open(paths.archive, "wb") as dst:
            shutil.copyfileobj(src, dst)
        require = "project" if self.deploy.kind != Kind.DAGS and not self.deploy.image_name else "dags"
        info = archives.archive_inspect(paths.archive, require=require)
        archives.archive_extract(paths.archive, info, paths.project)
        paths.archive.unlink()
        files = sum(1 for e in info.entries if not e.is_dir)
        self.log(f"Unpacked {files} files ({info.total_size:,} bytes) from the {info.format} archive.")
        if info.excluded:
            self.log(f"Left out (never deployed): {', '.join(sorted(info.excluded))}")

    def _ensure_local(self, image: str) -> None:
        if not engine.image_exists(image):
            engine.image_pull(image, on_line=self.log)

    def _build(self, paths: _Paths, step: DeployStep) -> None:
        if self.deploy.image_name:
            self.image = self.deploy.image_name
            step.state, step.message = DeployStep.State.SKIPPED, f"Prebuilt image {self.image}: no build."
            self.log(step.message)
            return
        dockerfile = paths.project / "Dockerfile"
        text, resolutions = runtimes.dockerfile_rewrite(dockerfile.read_text(encoding="utf-8", errors="replace"))
        for resolution in resolutions:
            if resolution.image != resolution.requested:
                self.log(f"Base image {resolution.requested} -> {resolution.image} (AIRDOCK_BASE_IMAGE_MAP)")
            if resolution.warning:
                self._warn(resolution.warning)
            if engine.image_exists(resolution.image):
                continue
            if resolution.line is not None:
                raise engine.BuildError(
                    f"The local runtime image {resolution.image} for {resolution.requested} is missing: run `make runtime-image`."
                )
            try:
                engine.image_pull(resolution.image, on_line=self.log)
            except engine.DockerError as exc:
                raise engine.BuildError(
                    f"The base image {resolution.requested} is not available here ({exc}). Map it to a local "
                    "image with the AIRDOCK_BASE_IMAGE_MAP setting, or use an Astro Runtime image."
                ) from exc
        if resolutions:
            self.deploy.runtime_requested = resolutions[-1].requested
            self.deploy.runtime_image_used = resolutions[-1].image
            labels = engine.image_labels(resolutions[-1].image)
            self.deploy.airflow_version = labels.get("io.airdock.runtime.airflow-version", "")
            self._save("runtime_requested", "runtime_image_used", "airflow_version")
        dockerfile.write_text(text, encoding="utf-8")
        for name in ("packages.txt", "requirements.txt"):
            (paths.project / name).touch(exist_ok=True)
        ignore = paths.project / ".dockerignore"
        extra = [".env", "airflow_settings.yaml", "airflow.db", "**/*.pem", ".git", "logs/"]
        if self.deployment.dag_deploy_enabled:
            extra.append("dags/")  # DAGs travel as a bundle, not in the image
        existing = ignore.read_text(encoding="utf-8", errors="replace") if ignore.exists() else ""
        ignore.write_text(existing.rstrip("\n") + "\n" + "\n".join(extra) + "\n", encoding="utf-8")
        tag = f"airdock-build/deployment-{self.deployment.pk}:deploy-{self.deploy.pk}"
        # No per-deploy labels: an unchanged project must give the very same image, every layer cached.
        # The runtime images' ONBUILD triggers take their time limit as a build argument; images
        # without those triggers get none (an unused build argument is a warning in the log).
        triggers = any(r.line is not None and not r.image.endswith("-base") for r in resolutions)
        engine.image_build(
            context_dir=paths.project, tag=tag, on_line=self.log,
            timeout=settings.AIRDOCK_BUILD_TIMEOUT, memory=settings.AIRDOCK_BUILD_MEMORY,
            buildargs={"AIRDOCK_REQUIREMENTS_TIMEOUT": str(settings.AIRDOCK_REQUIREMENTS_TIMEOUT)} if triggers else None,
        )
        self.image = tag

    def _check_files(self, paths: _Paths, *, with_tests: bool) -> bytes:
        """The parse script plus the deploy's dags/ (and tests/) as a tar for the check container."""
        files: list[tuple[str, bytes]] = [(f"{CHECK_DIR.lstrip('/')}/parse_dags.py", PARSE_SCRIPT)]
        dirs = [CHECK_DIR.lstrip("/"), PROJECT_IN_CHECK.lstrip("/"), f"{PROJECT_IN_CHECK.lstrip('/')}/dags"]
        for sub in ["dags", ".astro"] + (["tests"] if with_tests else []):
            base = self._dags_source(paths) if sub == "dags" else paths.project / sub
            if base is None or not base.is_dir():
                continue
            for path in sorted(base.rglob("*")):
                rel = f"{PROJECT_IN_CHECK.lstrip('/')}/{sub}/{path.relative_to(base).as_posix()}"
                if path.is_dir():
                    dirs.append(rel)
                elif path.is_file():
                    files.append((rel, path.read_bytes()))
        return engine.tar_of(files, dirs=dirs)

    def _dags_source(self, paths: _Paths) -> Path | None:
        """Where the DAGs to check come from: the upload, else the deployment's current bundle."""
        if (paths.project / "dags").is_dir():
            return paths.project / "dags"
        if self.deployment.desired_dag_bundle_version:
            data, _ = bundles.bundle_fetch(deployment=self.deployment, version=self.deployment.desired_dag_bundle_version)
            target = paths.root / "current-bundle"
            target.mkdir(exist_ok=True)
            bundle_file = paths.root / "current-bundle.tar.gz"
            bundle_file.write_bytes(data)
            info = archives.archive_inspect(bundle_file, require="dags")
            archives.archive_extract(bundle_file, info, target)
            return target / "dags"
        return None

    def _check_environment(self) -> dict[str, str]:
        return {"AIRFLOW__CORE__DAGS_FOLDER": f"{PROJECT_IN_CHECK}/dags", "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}

    def _parse(self, paths: _Paths) -> None:
        result = engine.container_run(
            image=self.image, step="DAG parse",
            command=["python", f"{CHECK_DIR}/parse_dags.py", f"{PROJECT_IN_CHECK}/dags", PROJECT_IN_CHECK],
            files=self._check_files(paths, with_tests=False), working_dir=PROJECT_IN_CHECK,
            environment=self._check_environment(), timeout=settings.AIRDOCK_CHECK_TIMEOUT,
            memory=settings.AIRDOCK_CHECK_MEMORY, on_line=self._parse_line,
        )
        marked = [l for l in result.output.splitlines() if l.startswith(PARSE_MARK)]
        if not marked:
            raise CheckFailed(
                f"The DAG parse did not finish (exit code {result.exit_code}); the image may lack Airflow. See the log."
            )
        summary = json.loads(marked[-1][len(PARSE_MARK):])
        self.deploy.parse_results = summary
        self.deploy.airflow_version = summary.get("airflow_version", "") or self.deploy.airflow_version
        self._save("parse_results", "airflow_version")
        self._note_airflow_change()
        failed = [f for f in summary["files"] if f["error"]]
        self.log(f"Parsed {len(summary['files'])} DAG files: {len(summary['dag_ids'])} DAGs, {len(failed)} import errors (Airflow {self.deploy.airflow_version}).")
        if failed:
            details = "; ".join(
                f"{f['file']}{' line ' + str(f['line']) if f['line'] else ''}: {_last_line(f['error'])}" for f in failed
            )
            raise CheckFailed(f"{len(failed)} DAG file(s) failed to import: {details}")

    def _note_airflow_change(self) -> None:
        """Say so when this deploy moves the deployment from one Airflow major version to another."""
        before, after = self.deployment.desired_airflow_version, self.deploy.airflow_version
        if self.deploy.kind == Kind.DAGS or not before or not after or before.split(".")[0] == after.split(".")[0]:
            return
        self.deploy.airflow_change = f"Airflow {before} → {after}"
        self._save("airflow_change")
        self.log(f"NOTE: this deploy moves {self.deployment.name} from Airflow {before} to Airflow {after}.")

    def _parse_line(self, line: str) -> None:
        if not line.startswith(PARSE_MARK):
            self.log(line)

    def _pytest(self, paths: _Paths) -> None:
        target = self.deploy.test_path or "tests"
        if not (paths.project / target).exists() and not (paths.project / "tests").exists():
            self._warn(f"pytest was asked for, but the project has no {target}/ to run.")
            return
        junit = f"{CHECK_DIR}/junit.xml"
        result = engine.container_run(
            image=self.image, step="pytest",
            command=["python", "-m", "pytest", target, "-p", "no:cacheprovider", f"--junitxml={junit}",
                     "-q", "-rfE", "--color=no"],
            files=self._check_files(paths, with_tests=True), working_dir=PROJECT_IN_CHECK,
            environment=self._check_environment(), timeout=settings.AIRDOCK_CHECK_TIMEOUT,
            memory=settings.AIRDOCK_CHECK_MEMORY, on_line=self.log, fetch=[junit],
        )
        summary = _junit_summary(result.files.get(junit, b""))
        summary["exit_code"] = result.exit_code
        self.deploy.test_results = summary
        self._save("test_results")
        self.log(f"pytest: {summary['passed']} passed, {summary['failed']} failed, {summary['errors']} errors, {summary['skipped']} skipped.")
        if result.exit_code == 5:
            self._warn(f"pytest collected no tests in {target}.")
        elif result.exit_code != 0:
            names = ", ".join(f["name"] for f in summary["failures"][:5]) or "see the log"
            raise CheckFailed(f"The project's tests failed ({summary['failed'] + summary['errors']} of {summary['total']}): {names}")

    def _push(self) -> None:
        organization = self.deployment.workspace.organization
        repository = f"{settings.AIRDOCK_REGISTRY}/{organization.slug}/deployment-{self.deployment.pk}"
        tag = f"deploy-{timezone.now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        self.log(f"Pushing {repository}:{tag}")
        layers: dict[str, dict] = {}
        last = [0.0]

        def progress(layer: str, status: str, current: int | None, total: int | None) -> None:
            layers[layer] = {"status": status, "current": current, "total": total}
            if time.monotonic() - last[0] > 0.5 or status in ("Pushed", "Layer already exists"):
                last[0] = time.monotonic()
                events.deploy_push_progress(self.deploy.pk, dict(layers))

        digest = engine.image_push(
            image=self.image, repository=repository, tag=tag, on_line=self.log,
            timeout=settings.AIRDOCK_PUSH_TIMEOUT, on_progress=progress,
        )
        events.deploy_push_progress(self.deploy.pk, layers)
        self.deploy.image_repository, self.deploy.image_tag, self.deploy.image_digest = repository, tag, digest
        self._save("image_repository", "image_tag", "image_digest")
        self.log(f"Pushed {repository}:{tag} ({digest})")

    def _upload_dags(self, paths: _Paths) -> None:
        bundle = bundles.bundle_pack(paths.project / "dags")
        dag_ids = self.deploy.parse_results.get("dag_ids", []) if self.deploy.parse_results else []
        key = bundles.bundle_store(deployment=self.deployment, bundle=bundle, dag_ids=dag_ids)
        self.deploy.dag_bundle_version = bundle.version
        self._save("dag_bundle_version")
        self.log(f"DAG bundle {bundle.version[:12]} ({len(bundle.files)} files, {len(bundle.data):,} bytes) stored at {key}")

    def _verify_rollback(self) -> None:
        """Check that the registry still has the image and storage the bundle, before activating."""
        reference = f"{self.deploy.image_repository}@{self.deploy.image_digest}"
        engine.registry_check(reference)
        self.log(f"Registry has {reference}")
        if self.deploy.dag_bundle_version:
            bundles.bundle_fetch(deployment=self.deployment, version=self.deploy.dag_bundle_version)
            self.log(f"Storage has DAG bundle {self.deploy.dag_bundle_version[:12]} (checksum verified)")

    def _activation_summary(self) -> str:
        parts = []
        if self.deploy.image_digest:
            parts.append(f"image {self.deploy.image_tag} ({self.deploy.image_digest[:19]}…)")
        if self.deploy.dag_bundle_version:
            parts.append(f"DAG bundle {self.deploy.dag_bundle_version[:12]}")
        return f"Activating {' and '.join(parts) or 'nothing new'} on {self.deployment.name}."


def _last_line(text: str) -> str:
    lines = [l.strip() for l in (text or "").splitlines() if l.strip()]
    return lines[-1] if lines else "import failed"


def _junit_summary(xml: bytes) -> dict:
    summary = {"total": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0, "failures": []}
    if not xml:
        return summary
    root = ElementTree.fromstring(xml)
    for case in root.iter("testcase"):
        summary["total"] += 1
        name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if case.find("skipped") is not None:
            summary["skipped"] += 1
        elif problem is not None:
            summary["failed" if problem.tag == "failure" else "errors"] += 1
            summary["failures"].append({"name": name, "message": (problem.get("message") or "")[:2000]})
        else:
            summary["passed"] += 1
    return summary
