"""One local image per Astro Runtime version a deploy asks for, built on first use and cached.

The build installs the version's lock into a container of the shared base image (the package
cache mounted, so versions share downloads), commits it, and adds Astro's flavours from
images/runtime/Dockerfile.version: `<version>-base` and `<version>` (with the ONBUILD triggers).
Two deploys asking for the same version at once build it once (a lock in Redis).
"""
from __future__ import annotations

import io
import logging
import tarfile
import time
from typing import Callable

from django.conf import settings
from django.utils import timezone

from ...integrations import engine
from ...models import Deploy, RuntimeImage
from . import table
from .locks import runtime_lock
from .resolve import Resolution, local_image
from .table import RuntimeVersion

logger = logging.getLogger(__name__)
LABEL_VERSION = "io.airdock.runtime.version"
LABEL_AIRFLOW = "io.airdock.runtime.airflow-version"
LABEL_BASE = "io.airdock.runtime.built-from"  # base image id and build scheme: a change of either rebuilds
BUILD_SCHEME = "3"  # bump when the way these images are made changes
PACKAGES_FILE = "/usr/local/airdock/runtime-packages.txt"


def _lock_connection():
    import django_rq

    return django_rq.get_connection("deploys")


def ensure_runtime_image(resolution: Resolution, *, on_line: Callable[[str], None]) -> RuntimeImage:
    """The local image of the resolution's Runtime version, built first if this engine lacks it."""
    version = resolution.version
    if _current(version):
        return _used(version)
    on_line(f"Building {version}, first use (about 15 s to 2 minutes; later deploys reuse it)")
    lock = _lock_connection().lock(
        f"airdock:runtime-build:{version.runtime}", timeout=settings.AIRDOCK_RUNTIME_BUILD_TIMEOUT + 60,
        blocking_timeout=settings.AIRDOCK_RUNTIME_BUILD_TIMEOUT + 60,
    )
    if not lock.acquire():
        raise engine.BuildError(f"Waited too long for another build of Astro Runtime {version.runtime}.")
    try:
        if _current(version):
            on_line(f"Another deploy built {version} meanwhile; using it")
            return _used(version)
        return runtime_image_build(version, on_line=on_line)
    finally:
        try:
            lock.release()
        except Exception:  # noqa: BLE001 - expired while building: nothing to release
            pass


def _current(version: RuntimeVersion) -> bool:
    """Both flavours are here, built on today's base image (Airdock's build scripts live in it)."""
    wanted = _built_from()
    return all(engine.image_labels(local_image(version, base=flavour)).get(LABEL_BASE) == wanted for flavour in (True, False))


def _built_from() -> str:
    base_id = engine.image_id(settings.AIRDOCK_RUNTIME_BASE_IMAGE)
    if not base_id:
        raise engine.BuildError(f"The base image {settings.AIRDOCK_RUNTIME_BASE_IMAGE} is missing: run `make runtime-image`.")
    return f"{base_id} scheme {BUILD_SCHEME}"


def _used(version: RuntimeVersion) -> RuntimeImage:
    record = RuntimeImage.objects.filter(runtime_version=version.runtime).first()
    if record is None:  # built before this database knew it (another portal, or `make runtime-image` elsewhere)
        record = RuntimeImage.objects.create(
            runtime_version=version.runtime, airflow_version=version.airflow, image=local_image(version),
            image_id=engine.image_id(local_image(version)),
        )
    else:
        RuntimeImage.objects.filter(pk=record.pk).update(last_used_at=timezone.now())
    return record


def runtime_image_build(version: RuntimeVersion, *, on_line: Callable[[str], None]) -> RuntimeImage:
    start = time.monotonic()
    lock = runtime_lock(version, on_line=on_line)
    files = io.BytesIO()
    with tarfile.open(fileobj=files, mode="w") as archive:
        archive.add(lock, "tmp/airdock-runtime-lock.txt")
    cache = settings.AIRDOCK_RUNTIME_CACHE_DIR / "uv"
    cache.mkdir(parents=True, exist_ok=True)
    installed = f"{settings.AIRDOCK_RUNTIME_IMAGE}-installed"
    image_id, fetched = engine.image_from_container(
        image=settings.AIRDOCK_RUNTIME_BASE_IMAGE,
        # The package cache only for this command: the committed image keeps the base's environment.
        command=["env", "UV_NO_CACHE=false", "UV_CACHE_DIR=/var/cache/uv", "airdock-install-runtime", "/tmp/airdock-runtime-lock.txt"],
        files=files.getvalue(), repository=installed, tag=version.runtime, on_line=on_line,
        timeout=settings.AIRDOCK_RUNTIME_BUILD_TIMEOUT, memory=settings.AIRDOCK_BUILD_MEMORY,
        volumes={str(cache): {"bind": "/var/cache/uv", "mode": "rw"}}, fetch=[PACKAGES_FILE],
    )
    labels = {
        LABEL_VERSION: version.runtime, LABEL_AIRFLOW: version.airflow,
        LABEL_BASE: _built_from(),
    }
    for target, base in (("base", True), ("runtime", False)):
        engine.image_build(
            context_dir=settings.AIRDOCK_RUNTIME_CONTEXT, dockerfile="Dockerfile.version", target=target,
            tag=local_image(version, base=base), buildargs={"INSTALLED": image_id}, labels=labels,
            on_line=on_line, timeout=settings.AIRDOCK_RUNTIME_BUILD_TIMEOUT, memory=settings.AIRDOCK_BUILD_MEMORY,
        )
    engine.image_remove(f"{installed}:{version.runtime}")  # the layers stay, under the two tags
    packages = {}
    for line in fetched.get(PACKAGES_FILE, b"").decode().splitlines():
        name, _, pinned = line.partition("==")
        if pinned:
            packages[name.lower()] = pinned
    seconds = round(time.monotonic() - start, 1)
    record, _ = RuntimeImage.objects.update_or_create(runtime_version=version.runtime, defaults={
        "airflow_version": version.airflow, "image": local_image(version),
        "image_id": engine.image_id(local_image(version)), "packages": packages, "build_seconds": seconds,
        "last_used_at": timezone.now(),
    })
    on_line(f"Built {version} in {seconds:.0f} s: {len(packages)} packages")
    runtime_images_prune()
    return record


def runtime_images_prune(*, keep: int | None = None) -> list[str]:
    """Remove the Runtime images used least recently, keeping `keep` (AIRDOCK_RUNTIME_IMAGES_KEEP),
    the newest version of each line (what `make runtime-image` prebuilds) and any a deploy in
    progress builds on. Return the versions removed."""
    keep = settings.AIRDOCK_RUNTIME_IMAGES_KEEP if keep is None else keep
    busy = set(Deploy.objects.filter(state__in=Deploy.ACTIVE_STATES).exclude(runtime_version="")
               .values_list("runtime_version", flat=True))
    busy |= {rows[-1].runtime for rows in table.lines().values()}
    removed = []
    for record in RuntimeImage.objects.order_by("-last_used_at", "-pk")[keep:]:
        if record.runtime_version in busy:
            continue
        for tag in (f"{settings.AIRDOCK_RUNTIME_IMAGE}:{record.runtime_version}", f"{settings.AIRDOCK_RUNTIME_IMAGE}:{record.runtime_version}-base"):
            try:
                engine.image_remove(tag)
            except engine.DockerError:
                logger.warning("cannot remove %s", tag, exc_info=True)
        record.delete()
        removed.append(record.runtime_version)
    return removed
