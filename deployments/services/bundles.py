"""DAG bundles: dags/ packed canonically, versioned by content, stored immutably with a manifest."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import storages

from ..models import Deployment


class BundleUploadError(Exception):
    """The bundle could not be stored; the message says where and why."""


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
    storage = storages["bundles"]
    key = bundle_key(deployment, bundle.version)
    manifest = {
        "version": bundle.version, "archive": key, "archive_sha256": bundle.sha256,
        "files": bundle.files, "dag_ids": sorted(dag_ids),
    }
    try:
        if not storage.exists(key):
            storage.save(key, ContentFile(bundle.data))
        manifest_key = bundle_key(deployment, bundle.version, ".manifest.json")
        if not storage.exists(manifest_key):
            storage.save(manifest_key, ContentFile(json.dumps(manifest, indent=2).encode()))
    except Exception as exc:  # noqa: BLE001 - any storage backend's failure reaches the user
        raise BundleUploadError(f"Cannot store the DAG bundle at {key}: {exc}") from exc
    return key


def bundle_fetch(*, deployment: Deployment, version: str) -> tuple[bytes, dict]:
    """Return a stored bundle's .tar.gz (checked against its manifest) and the manifest."""
    storage = storages["bundles"]
    try:
        with storage.open(bundle_key(deployment, version, ".manifest.json")) as fh:
            manifest = json.loads(fh.read())
        with storage.open(bundle_key(deployment, version)) as fh:
            data = fh.read()
    except Exception as exc:  # noqa: BLE001
        raise BundleUploadError(f"Cannot read DAG bundle {version[:12]} of {deployment}: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != manifest["archive_sha256"]:
        raise BundleUploadError(f"DAG bundle {version[:12]} does not match its checksum; it was changed in storage.")
    return data, manifest
