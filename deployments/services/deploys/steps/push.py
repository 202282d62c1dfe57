"""PUSHING: push the image to the deployment's repository under a new tag; record its digest."""
from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.utils import timezone

from .... import events
from ....integrations import engine, registry
from ..context import RunContext
from .retry import with_retries


def push(ctx: RunContext) -> None:
    deployment, deploy = ctx.deployment, ctx.deploy
    repository = f"{settings.AIRDOCK_REGISTRY}/{deployment.workspace.organization.slug}/deployment-{deployment.pk}"
    tag = f"deploy-{timezone.now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    ctx.log(f"Pushing {repository}:{tag}")
    layers: dict[str, dict] = {}
    last = [0.0]

    def progress(layer: str, status: str, current: int | None, total: int | None) -> None:
        layers[layer] = {"status": status, "current": current, "total": total}
        if time.monotonic() - last[0] > 0.5 or status in ("Pushed", "Layer already exists"):
            last[0] = time.monotonic()
            events.deploy_push_progress(deploy.pk, dict(layers))

    digest = with_retries("push", lambda: registry.image_push(
        image=ctx.image, repository=repository, tag=tag, on_line=ctx.log,
        timeout=settings.AIRDOCK_PUSH_TIMEOUT, on_progress=progress,
    ), errors=(registry.PushError,), log=ctx.log)
    events.deploy_push_progress(deploy.pk, layers)
    deploy.image_repository, deploy.image_tag, deploy.image_digest = repository, tag, digest
    ctx.save("image_repository", "image_tag", "image_digest")
    ctx.log(f"Pushed {repository}:{tag} ({digest})")
    if ctx.image.startswith("airdock-build/"):  # the local build tag is not left for others to name
        engine.image_remove(ctx.image)
