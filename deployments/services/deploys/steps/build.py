"""BUILDING: build the project's image on the runtime image its Dockerfile names (or take the
prebuilt image the deploy names)."""
from __future__ import annotations

from django.conf import settings

from ....integrations import engine
from ... import runtimes
from ..context import RunContext

# Never baked into an image, whatever the project's .dockerignore says.
ALWAYS_IGNORED = [".env", "airflow_settings.yaml", "airflow.db", "**/*.pem", ".git", "logs/"]


def build(ctx: RunContext) -> None:
    if ctx.deploy.image_name:
        ctx.image = ctx.deploy.image_name
        ctx.skip(f"Prebuilt image {ctx.image}: no build.")
        return
    dockerfile = ctx.project / "Dockerfile"
    text, resolutions = runtimes.dockerfile_rewrite(dockerfile.read_text(encoding="utf-8", errors="replace"))
    for resolution in resolutions:
        _ensure_base_image(ctx, resolution)
    if resolutions:
        deploy = ctx.deploy
        deploy.runtime_requested = resolutions[-1].requested
        deploy.runtime_image_used = resolutions[-1].image
        deploy.airflow_version = engine.image_labels(resolutions[-1].image).get("io.airdock.runtime.airflow-version", "")
        ctx.save("runtime_requested", "runtime_image_used", "airflow_version")
    dockerfile.write_text(text, encoding="utf-8")
    for name in ("packages.txt", "requirements.txt"):
        (ctx.project / name).touch(exist_ok=True)
    _write_dockerignore(ctx)
    tag = f"airdock-build/deployment-{ctx.deployment.pk}:deploy-{ctx.deploy.pk}"
    # No per-deploy labels: an unchanged project must give the very same image, every layer cached.
    # The runtime images' ONBUILD triggers take their time limit as a build argument; images
    # without those triggers get none (an unused build argument is a warning in the log).
    triggers = any(r.line is not None and not r.image.endswith("-base") for r in resolutions)
    engine.image_build(
        context_dir=ctx.project, tag=tag, on_line=ctx.log,
        timeout=settings.AIRDOCK_BUILD_TIMEOUT, memory=settings.AIRDOCK_BUILD_MEMORY,
        buildargs={"AIRDOCK_REQUIREMENTS_TIMEOUT": str(settings.AIRDOCK_REQUIREMENTS_TIMEOUT)} if triggers else None,
    )
    ctx.image = tag


def _ensure_base_image(ctx: RunContext, resolution: runtimes.Resolution) -> None:
    if resolution.image != resolution.requested:
        ctx.log(f"Base image {resolution.requested} -> {resolution.image} (AIRDOCK_BASE_IMAGE_MAP)")
    if resolution.warning:
        ctx.warn(resolution.warning)
    if engine.image_exists(resolution.image):
        return
    if resolution.line is not None:
        raise engine.BuildError(
            f"The local runtime image {resolution.image} for {resolution.requested} is missing: run `make runtime-image`."
        )
    try:
        engine.image_pull(resolution.image, on_line=ctx.log)
    except engine.DockerError as exc:
        raise engine.BuildError(
            f"The base image {resolution.requested} is not available here ({exc.message}). Map it to a local "
            "image with the AIRDOCK_BASE_IMAGE_MAP setting, or use an Astro Runtime image."
        ) from exc


def _write_dockerignore(ctx: RunContext) -> None:
    ignore = ctx.project / ".dockerignore"
    extra = list(ALWAYS_IGNORED)
    if ctx.deployment.dag_deploy_enabled:
        extra.append("dags/")  # DAGs travel as a bundle, not in the image
    existing = ignore.read_text(encoding="utf-8", errors="replace") if ignore.exists() else ""
    ignore.write_text(existing.rstrip("\n") + "\n" + "\n".join(extra) + "\n", encoding="utf-8")
