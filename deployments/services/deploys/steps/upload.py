"""UPLOADING_DAGS: pack dags/ into a content-versioned bundle and store it."""
from __future__ import annotations

from ....integrations.storage import StorageError
from ... import bundles
from ..context import RunContext
from .retry import with_retries


def upload_dags(ctx: RunContext) -> None:
    bundle = bundles.bundle_pack(ctx.project / "dags")
    dag_ids = (ctx.deploy.parse_results or {}).get("dag_ids", [])
    key = with_retries("DAG bundle upload", lambda: bundles.bundle_store(deployment=ctx.deployment, bundle=bundle, dag_ids=dag_ids),
                       errors=(StorageError,), log=ctx.log)
    ctx.deploy.dag_bundle_version = bundle.version
    ctx.save("dag_bundle_version")
    ctx.log(f"DAG bundle {bundle.version[:12]} ({len(bundle.files)} files, {len(bundle.data):,} bytes) stored at {key}")
