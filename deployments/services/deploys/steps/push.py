"""PUSHING: push the image to the deployment's repository under a new tag; record its digest."""
from __future__ import annotations

import logging
import secrets
import time

from django.conf import settings
from django.utils import timezone

from .... import events
from ....integrations import engine, registry
from ..context import RunContext
from .retry import with_retries

logger = logging.getLogger(__name__)


def push(ctx: RunContext) -> None:
    deployment, deploy = ctx.deployment, ctx.deploy
    _wait_while_the_registry_collects_garbage(ctx)
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


def _wait_while_the_registry_collects_garbage(ctx: RunContext) -> None:
    """Called once the deploy is PUSHING (retention's garbage collection looks for such deploys
    after setting its flag): wait while the flag is set, at most the hour it lives."""
    import django_rq

    try:
        redis = django_rq.get_connection("deploys")
        said = False
        while redis.exists(registry.GC_FLAG):
            if not said:
                ctx.log("Waiting for the registry's garbage collection to end before pushing")
                said = True
            time.sleep(2)
    except Exception:  # noqa: BLE001 - without Redis no collection can be running either
        logger.warning("cannot ask whether the registry collects garbage", exc_info=True)
