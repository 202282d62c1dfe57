"""BUILDING: build the project's image on the Astro Runtime its Dockerfile names (that version's
local image, built first if this engine lacks it), or take the prebuilt image the deploy names."""
from __future__ import annotations

import fnmatch

from django.conf import settings

from portal.errors import AirdockError, Invalid

from ....integrations import engine
from ...runtimes.dockerfile import dockerfile_rewrite
from ...runtimes.images import ensure_runtime_image
from ...runtimes.resolve import Resolution, resolve
from ..context import RunContext

MOVED_FILE = "/usr/local/airdock/project-moved.txt"
# Never baked into an image, whatever the project's .dockerignore says.
ALWAYS_IGNORED = [".env", "airflow_settings.yaml", "airflow.db", "**/*.pem", ".git", "logs/"]


def build(ctx: RunContext) -> None:
    if ctx.deploy.image_name:
        ctx.image = ctx.deploy.image_name
        ctx.skip(f"Prebuilt image {ctx.image}: no build.")
        return
    dockerfile = ctx.project / "Dockerfile"
    rewritten = dockerfile_rewrite(dockerfile.read_text(encoding="utf-8", errors="replace"))
    for note in rewritten.notes:
        ctx.log(note)
    for warning in rewritten.warnings:
        ctx.warn(warning)
    _check_runtime_change(ctx, rewritten.last_from)
    for resolution in rewritten.resolutions:
        _ensure_base_image(ctx, resolution)
    _record_runtime(ctx, rewritten.last_from)
    dockerfile.write_text(rewritten.text, encoding="utf-8")
    for name in ("packages.txt", "requirements.txt"):
        (ctx.project / name).touch(exist_ok=True)
    _write_dockerignore(ctx)
    tag = f"airdock-build/deployment-{ctx.deployment.pk}:deploy-{ctx.deploy.pk}"
    # No per-deploy labels: an unchanged project must give the very same image, every layer cached.
    # The runtime images' ONBUILD triggers take their time limit as a build argument; images
    # without those triggers get none (an unused build argument is a warning in the log).
    triggers = any(r.is_runtime and not r.base for r in rewritten.resolutions)
    engine.image_build(
        context_dir=ctx.project, tag=tag, on_line=ctx.log,
        timeout=settings.AIRDOCK_BUILD_TIMEOUT, memory=settings.AIRDOCK_BUILD_MEMORY,
        buildargs={"AIRDOCK_REQUIREMENTS_TIMEOUT": str(settings.AIRDOCK_REQUIREMENTS_TIMEOUT)} if triggers else None,
    )
    ctx.image = tag
    if triggers:
        _warn_moved(ctx, tag)


def _warn_moved(ctx: RunContext, image: str) -> None:
    """List the pre-installed packages requirements.txt moved (the runtime's check records them in
    the image, so a build from cache tells it as well as a fresh one)."""
    moved = [line.split() for line in (engine.image_file(image, MOVED_FILE) or b"").decode().splitlines() if line.strip()]
    if moved:
        listed = ", ".join(f"{name} {before} → {after}" for name, before, after in moved)
        ctx.warn(f"requirements.txt moved {len(moved)} package(s) the runtime pre-installs: {listed}")


def _check_runtime_change(ctx: RunContext, final: Resolution | None) -> None:
    """A deploy that moves a deployment to another Airflow major needs the deployment's
    confirmation (its Runtime image setting naming the new major) or `force`; before a first
    deploy, a setting that disagrees is only a warning."""
    if final is None or not final.is_runtime:
        return
    deployment, new = ctx.deployment, final.version
    try:
        setting = resolve(deployment.runtime_image).version if deployment.runtime_image else None
    except AirdockError:
        setting = None
    running = deployment.desired_airflow_version
    if not running:
        if setting is not None and setting.airflow_major != new.airflow_major:
            ctx.warn(f"The deployment's Runtime image setting names {setting} but this project builds on {new}; "
                     "the setting now follows what the deployment runs.")
        return
    if int(running.split(".")[0]) == new.airflow_major:
        if deployment.desired_runtime_version and deployment.desired_runtime_version != new.runtime:
            ctx.log(f"This deploy moves {deployment.name} from Astro Runtime {deployment.desired_runtime_version} "
                    f"(Airflow {running}) to {new}.")
        return
    move = (f"This deploy moves {deployment.name} from Airflow {running} (Runtime {deployment.desired_runtime_version or '?'}) "
            f"to {new}")
    if ctx.deploy.force:
        ctx.warn(f"{move}: forced.")
    elif setting is not None and setting.airflow_major == new.airflow_major:
        ctx.log(f"{move}, as the deployment's Runtime image setting ({deployment.runtime_image}) confirms.")
    else:
        raise Invalid(
            f"{move}. Confirm it by setting the deployment's Runtime image to {final.requested} "
            "(the deployment's settings), or deploy with force."
        )


def _ensure_base_image(ctx: RunContext, resolution: Resolution) -> None:
    if resolution.warning:
        ctx.warn(resolution.warning)
    if resolution.is_runtime:
        ctx.log(f"Base image {resolution.requested} -> {resolution.image} ({resolution.version})")
        ensure_runtime_image(resolution, on_line=ctx.log)
        return
    if resolution.requested == "scratch":  # the empty image, not an image on this engine
        return
    if not any(fnmatch.fnmatchcase(resolution.requested, p) for p in settings.AIRDOCK_BASE_IMAGES_ALLOWED):
        raise Invalid(
            f"The Dockerfile names {resolution.requested}: a build may start from Astro Runtime images, its own "
            "stages and the images the operator allows (AIRDOCK_BASE_IMAGES_ALLOWED), not from other images on this engine."
        )
    if engine.image_exists(resolution.image):
        return
    try:
        engine.image_pull(resolution.image, on_line=ctx.log)
    except engine.DockerError as exc:
        raise engine.BuildError(
            f"The base image {resolution.requested} is not available here ({exc.message}). Use an Astro "
            "Runtime image, or load this image into the engine first."
        ) from exc


def _record_runtime(ctx: RunContext, final: Resolution | None) -> None:
    """Record which Runtime (and so which Airflow) the image the deployment will run is built on."""
    if final is None:
        return
    deploy = ctx.deploy
    deploy.runtime_requested, deploy.runtime_image_used = final.requested, final.image
    if final.is_runtime:
        deploy.runtime_version, deploy.airflow_version = final.version.runtime, final.version.airflow
    else:
        deploy.airflow_version = engine.image_labels(final.image).get("io.airdock.runtime.airflow-version", "")
    ctx.save("runtime_requested", "runtime_image_used", "runtime_version", "airflow_version")


def _write_dockerignore(ctx: RunContext) -> None:
    ignore = ctx.project / ".dockerignore"
    extra = list(ALWAYS_IGNORED)
    if ctx.deployment.dag_deploy_enabled:
        extra.append("dags/")  # DAGs travel as a bundle, not in the image
    existing = ignore.read_text(encoding="utf-8", errors="replace") if ignore.exists() else ""
    ignore.write_text(existing.rstrip("\n") + "\n" + "\n".join(extra) + "\n", encoding="utf-8")
