"""DAG bundles: dags/ packed canonically, versioned by content, stored immutably with a manifest."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ..integrations import storage
from ..integrations.storage import StorageError
from ..models import Deployment


class BundleError(StorageError):
    """A stored bundle cannot be used (missing, or changed in storage)."""


@dataclass
class Bundle:
    version: str  # sha256 of the canonical (uncompressed) tar
    data: bytes  # the .tar.gz
    sha256: str  # of the .tar.gz, for downloaders to check
    files: list[dict]


def bundle_pack(dags_dir: Path) -> Bundle:
    """Pack dags/ canonically: sorted paths, fixed times, owners and modes, so the same files give
    the same version whatever machine or upload they come from."""
    raw = io.BytesIO()
    files: list[dict] = []
    paths = sorted(p for p in dags_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in paths:
            rel = "dags/" + path.relative_to(dags_dir).as_posix()
            data = path.read_bytes()
            info = tarfile.TarInfo(rel)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
            files.append({"path": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    tar_bytes = raw.getvalue()
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, filename="") as gz:
        gz.write(tar_bytes)
    data = compressed.getvalue()
    return Bundle(
        version=hashlib.sha256(tar_bytes).hexdigest(), data=data,
        sha256=hashlib.sha256(data).hexdigest(), files=files,
    )


def bundle_key(deployment: Deployment, version: str, suffix: str = ".tar.gz") -> str:
    return f"dag-bundles/{deployment.workspace.organization.slug}/deployment-{deployment.pk}/{version}{suffix}"


def bundle_store(*, deployment: Deployment, bundle: Bundle, dag_ids: list[str]) -> str:
    """Store the bundle and its manifest; an existing version is left as it is (same content)."""
    key = bundle_key(deployment, bundle.version)
    manifest = {
        "version": bundle.version, "archive": key, "archive_sha256": bundle.sha256,
        "files": bundle.files, "dag_ids": sorted(dag_ids),
    }
    try:
        storage.put_new(key, bundle.data)
        storage.put_new(bundle_key(deployment, bundle.version, ".manifest.json"), json.dumps(manifest, indent=2).encode())
    except StorageError as exc:
        raise StorageError(f"Cannot store the DAG bundle at {key}: {exc.__cause__ or exc.message}") from exc
    return key


def bundle_fetch(*, deployment: Deployment, version: str) -> tuple[bytes, dict]:
    """Return a stored bundle's .tar.gz (checked against its manifest) and the manifest."""
    try:
        manifest = json.loads(storage.get(bundle_key(deployment, version, ".manifest.json")))
        data = storage.get(bundle_key(deployment, version))
    except StorageError as exc:
        raise BundleError(f"Cannot read DAG bundle {version[:12]} of {deployment}: {exc.__cause__ or exc.message}") from exc
    # The version is the sha256 of the canonical tar, as the database holds it: a bundle (and a
    # manifest beside it) swapped in storage cannot pass for it.
    try:
        tar_bytes = gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise BundleError(f"DAG bundle {version[:12]} of {deployment} is not a readable .tar.gz; it was changed in storage.") from exc
    if hashlib.sha256(tar_bytes).hexdigest() != version or hashlib.sha256(data).hexdigest() != manifest.get("archive_sha256"):
        raise BundleError(
            f"DAG bundle {version[:12]} of {deployment} does not match its version; it was changed in storage. "
            "Refusing to use it: deploy the DAGs again."
        )
    return data, manifest
