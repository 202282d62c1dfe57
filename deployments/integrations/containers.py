"""Confined containers for tenant code: the DAG parse and the project's tests run in them (no
network, the astro user, no capabilities, limits on pids, CPU and memory, a read-only root), with
the project copied in and a few result files read back. Keys and bytes in, no models."""
from __future__ import annotations

import collections
import contextlib
import io
import tarfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import docker
import docker.errors
from django.conf import settings

from .engine import (
    MAX_KEPT_OUTPUT,
    CheckError,
    LineSink,
    StepTimeout,
    _fetch,
    _Lines,
    client,
)


@dataclass
class RunResult:
    exit_code: int
    output: str
    files: dict[str, bytes]


def tar_of(files: Iterable[tuple[str, bytes]], *, uid: int = 50000, dirs: Iterable[str] = ()) -> bytes:
    """Pack (path, content) pairs into a tar owned by `uid` (the runtime's astro user)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o755, uid, 0
            archive.addfile(info)
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), 0o644, uid, 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


TENANT_USER = "50000:0"  # the runtime's astro user, whatever the image's last USER says


def container_run(
    *,
    image: str,
    command: list[str],
    step: str,
    files: bytes = b"",
    files_at: str,
    working_dir: str | None = None,
    environment: dict[str, str] | None = None,
    timeout: int,
    memory: int,
    on_line: LineSink,
    fetch: Iterable[str] = (),
    labels: dict[str, str] | None = None,
) -> RunResult:
    """Run a tenant's code, confined: no network, the astro user, no capabilities, no new
    privileges, pids/CPU/memory limits, a read-only root with /tmp in memory, no engine socket.

    `files` (a tar) is unpacked at `files_at`, a volume of the container's own, where the command
    may write too (what it leaves under `fetch` is read back, each file bounded in size). Return
    the exit code and output. Raise StepTimeout (naming `step`) when it runs past `timeout` seconds.
    """
    engine = client(timeout=timeout + 30)
    try:
        container = engine.containers.create(
            image, command=command, working_dir=working_dir,
            environment={"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", **(environment or {})},
            user=TENANT_USER, network_mode="none", mem_limit=memory, memswap_limit=memory, detach=True,
            cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True,
            pids_limit=settings.AIRDOCK_CHECK_PIDS, nano_cpus=int(settings.AIRDOCK_CHECK_CPUS * 1e9),
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={settings.AIRDOCK_CHECK_TMPFS_MB}m,mode=1777"},
            mounts=[docker.types.Mount(files_at, None, type="volume")],
            labels={"io.airdock.step": step, **(labels or {})}, runtime=settings.AIRDOCK_CHECK_RUNTIME or None,
        )
    except docker.errors.ImageNotFound as exc:
        raise CheckError(f"The image {image} is not in the Docker engine.") from exc
    except docker.errors.APIError as exc:
        raise CheckError(f"Cannot start the {step} container: {exc.explanation or exc}") from exc
    output: collections.deque[str] = collections.deque(maxlen=MAX_KEPT_OUTPUT)

    def sink(line: str) -> None:
        output.append(line)
        on_line(line)

    try:
        if files and not container.put_archive(files_at, files):
            raise CheckError(f"Cannot copy the project into the {step} container.")
        container.start()
        # The output is read here, in the caller's thread (its callback may write to the database);
        # a watchdog only kills the container when time runs out, which ends the stream.
        timed_out = threading.Event()

        def watchdog() -> None:
            if not finished.wait(timeout):
                timed_out.set()
                with contextlib.suppress(docker.errors.APIError):
                    container.kill()

        finished = threading.Event()
        threading.Thread(target=watchdog, daemon=True).start()
        lines = _Lines(sink)
        try:
            for chunk in container.logs(stream=True, follow=True):
                lines.feed(chunk.decode("utf-8", "replace"))
            lines.close()
            status = container.wait(timeout=60)
        finally:
            finished.set()
        if timed_out.is_set():
            raise StepTimeout(f"The {step} took longer than {timeout} s and was stopped (AIRDOCK_CHECK_TIMEOUT).")
        fetched = _fetch(container, fetch, limit=settings.AIRDOCK_CHECK_FETCH_MAX_BYTES)
        return RunResult(exit_code=int(status.get("StatusCode", 1)), output="\n".join(output), files=fetched)
    finally:
        try:
            container.remove(force=True, v=True)  # and its volume
        except docker.errors.APIError:
            pass


def containers_remove(labels: dict[str, str]) -> int:
    """Remove (killing them first) the containers with these labels; return how many."""
    engine = client()
    found = engine.api.containers(all=True, filters={"label": [f"{k}={v}" for k, v in labels.items()]})
    for container in found:
        with contextlib.suppress(docker.errors.APIError):
            engine.api.remove_container(container["Id"], force=True, v=True)
    return len(found)
