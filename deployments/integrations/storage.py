"""Object storage for DAG bundles (the "bundles" storage: a folder, or an S3 bucket): keys in,
bytes out. It knows nothing of deployments; callers build the keys."""
from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import storages

from portal.errors import AirdockError


class StorageError(AirdockError):
    """The store refused or could not be reached; the message names the key."""

    status = 502


def _bundles():
    return storages["bundles"]


def put_new(key: str, data: bytes) -> None:
    """Store `data` at `key` unless something is already there (stored objects never change)."""
    storage = _bundles()
    try:
        if not storage.exists(key):
            storage.save(key, ContentFile(data))
    except Exception as exc:
        raise StorageError(f"Cannot store {key}: {exc}") from exc


def get(key: str) -> bytes:
    try:
        with _bundles().open(key) as fh:
            return fh.read()
    except Exception as exc:
        raise StorageError(f"Cannot read {key}: {exc}") from exc


def delete(key: str) -> bool:
    """Remove what is stored at `key`; False when nothing was there."""
    storage = _bundles()
    try:
        if not storage.exists(key):
            return False
        storage.delete(key)
        return True
    except Exception as exc:
        raise StorageError(f"Cannot delete {key}: {exc}") from exc
