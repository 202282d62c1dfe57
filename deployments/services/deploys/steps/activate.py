"""ACTIVATING: make the deployment's desired state this deploy's image and bundle (for a rollback,
after checking the registry and storage still hold them)."""
from __future__ import annotations

from ....integrations import registry
from ... import bundles
from .. import states
from ..context import RunContext


def activate(ctx: RunContext) -> None:
    deploy = ctx.deploy
    if deploy.is_rollback:
        _verify_rollback(ctx)
    parts = []
    if deploy.image_digest:
        parts.append(f"image {deploy.image_tag} ({deploy.image_digest[:19]}…)")
    if deploy.dag_bundle_version:
        parts.append(f"DAG bundle {deploy.dag_bundle_version[:12]}")
    ctx.log(f"Activating {' and '.join(parts) or 'nothing new'} on {ctx.deployment.name}.")
    ctx.log.flush()
    states.deploy_activate(deploy=deploy)


def _verify_rollback(ctx: RunContext) -> None:
    """Check that the registry still has the image and storage the bundle, before activating."""
    deploy = ctx.deploy
    reference = f"{deploy.image_repository}@{deploy.image_digest}"
    registry.registry_check(reference)
    ctx.log(f"Registry has {reference}")
    if deploy.dag_bundle_version:
        bundles.bundle_fetch(deployment=ctx.deployment, version=deploy.dag_bundle_version)
        ctx.log(f"Storage has DAG bundle {deploy.dag_bundle_version[:12]} (checksum verified)")
