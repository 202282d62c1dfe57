"""The Docker engine: images, builds and check containers, behind small functions that raise
clear, typed errors. Pushing and asking the registry live in `registry`.

Every function takes an `on_line` callback so build, check and push output reaches the deploy log
as it happens.
"""
from __future__ import annotations

import collections
import contextlib
import io
import re
import tarfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions
from django.conf import settings

from portal.errors import AirdockError

LineSink = Callable[[str], None]


class DockerError(AirdockError):
    """The Docker engine could not do what was asked; the message says what and why."""

    status = 502


class BuildError(DockerError):
    pass


class CheckError(DockerError):
    pass


class StepTimeout(DockerError):
    pass


class EngineUnavailable(DockerError):
    status = 503


def client(timeout: int = 120) -> docker.DockerClient:
    try:
        if settings.AIRDOCK_DOCKER_URL:
            return docker.DockerClient(base_url=settings.AIRDOCK_DOCKER_URL, timeout=timeout)
        return docker.from_env(timeout=timeout)
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(f"Cannot reach the Docker engine ({exc}). Is it running? (make services)") from exc


MAX_PARTIAL_LINE = 64 * 1024
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MAX_KEPT_OUTPUT = 2000  # lines of a check's output kept in memory (all reach on_line)


class _Lines:
    """Turn a stream of text chunks into whole lines."""

    def __init__(self, sink: LineSink) -> None:
        self.sink, self.buffer = sink, ""

    def feed(self, text: str) -> None:
        self.buffer += text.replace("\r\n", "\n")
        *lines, self.buffer = self.buffer.split("\n")
        if len(self.buffer) > MAX_PARTIAL_LINE:  # a line without end: pass it on in pieces
            lines.append(self.buffer)
            self.buffer = ""
        for line in lines:
            self._emit(line)

    def close(self) -> None:
        self._emit(self.buffer)
        self.buffer = ""

    def _emit(self, line: str) -> None:
        line = ANSI_ESCAPE.sub("", line).rstrip()  # the engine colours a build step's stderr red
        if line.strip():
            self.sink(line)


def image_exists(name: str) -> bool:
    try:
        client().images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:
        raise DockerError(f"Cannot look up the image {name!r}: {exc.explanation or exc}") from exc


def image_names(name: str) -> list[str] | None:
    """Every name (tags and digests) of the image `name` resolves to; None when there is none."""
    try:
        image = client().images.get(name)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        raise DockerError(f"Cannot look up the image {name!r}: {exc.explanation or exc}") from exc
    return [*image.tags, *(image.attrs.get("RepoDigests") or [])]


def image_id(name: str) -> str:
    try:
        return client().images.get(name).id
    except docker.errors.ImageNotFound:
        return ""


def image_labels(name: str) -> dict[str, str]:
    try:
        return client().images.get(name).labels or {}
    except docker.errors.ImageNotFound:
        return {}


def registry_auth(name: str = "") -> dict | None:
    """Airdock's credentials for its own registry (never for another registry's images)."""
    if settings.AIRDOCK_REGISTRY_USERNAME and (not name or name.startswith(settings.AIRDOCK_REGISTRY + "/")):
        return {"username": settings.AIRDOCK_REGISTRY_USERNAME, "password": settings.AIRDOCK_REGISTRY_PASSWORD}
    return None


def image_pull(name: str, *, on_line: LineSink) -> None:
    """Pull an image not present locally; raise DockerError if the registry refuses."""
    if "@" in name:  # repository@sha256:… (the engine takes the digest as the tag)
        repository, _, tag = name.partition("@")
    else:
        repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
    on_line(f"Pulling {name}")
    try:
        client(timeout=600).images.pull(repository, tag=tag, auth_config=registry_auth(name))
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        raise DockerError(f"Cannot pull {name}: {getattr(exc, 'explanation', None) or exc}") from exc


def image_build(
    *, context_dir: Path, tag: str, on_line: LineSink, timeout: int, memory: int,
    buildargs: dict[str, str] | None = None, dockerfile: str | None = None, target: str | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """Build `context_dir` (honouring its .dockerignore) and return the image id.

    The engine's own output streams to on_line. Raise BuildError on a failed step and StepTimeout
    when the build runs longer than `timeout` seconds (checked at each line, and, for a step that
    prints nothing, by the read timeout: at most `timeout` later). Closing the stream cancels the
    build in the engine. The runtime images' own scripts print the
    cause of a failure on lines starting "ERROR:"; those lead the BuildError's message.
    """
    api = client(timeout=timeout).api
    deadline = time.monotonic() + timeout
    causes: list[str] = []

    def sink(line: str) -> None:
        if line.startswith("ERROR: ") and len(causes) < 5:
            causes.append(line.removeprefix("ERROR: ").strip())
        on_line(line)

    lines = _Lines(sink)
    image_id = ""
    try:
        stream = api.build(
            path=str(context_dir), tag=tag, rm=True, forcerm=True, pull=False, decode=True,
            network_mode=settings.AIRDOCK_BUILD_NETWORK, buildargs=buildargs or None,
            container_limits={"memory": memory, "memswap": -1}, dockerfile=dockerfile, target=target,
            labels=labels or None, timeout=timeout,  # a read timeout: a silent step (sleep, a hung download)
        )
        for chunk in stream:
            if "stream" in chunk:
                lines.feed(chunk["stream"])
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            if "error" in chunk:
                lines.close()
                message = ((chunk.get("errorDetail") or {}).get("message") or chunk["error"]).strip()
                if causes:
                    message = f"{' '.join(causes)} ({message})"
                if "non-zero code: 137" in message:  # SIGKILL: the kernel, at the build's memory limit
                    message += (f": killed, most likely for memory: a build may use {memory // 2**20} MiB "
                                "(AIRDOCK_BUILD_MEMORY)")
                raise BuildError(f"The image build failed: {message}")
            if time.monotonic() > deadline:
                raise StepTimeout(f"The image build took longer than {timeout} s (AIRDOCK_BUILD_TIMEOUT) and was stopped.")
    except (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError) as exc:  # the latter while streaming
        raise StepTimeout(f"The image build took longer than {timeout} s (AIRDOCK_BUILD_TIMEOUT) and was stopped.") from exc
    except docker.errors.APIError as exc:
        raise BuildError(f"The image build failed: {exc.explanation or exc}") from exc
    lines.close()
    if not image_id:
        try:
            image_id = api.inspect_image(tag)["Id"]
        except docker.errors.APIError as exc:
            raise BuildError("The build ended without producing an image.") from exc
    return image_id


def image_history(name: str) -> list[dict]:
    return client().api.history(name)


def image_from_container(
    *, image: str, command: list[str], files: bytes, repository: str, tag: str, on_line: LineSink,
    timeout: int, memory: int, environment: dict[str, str] | None = None, volumes: dict | None = None,
    fetch: Iterable[str] = (),
) -> tuple[str, dict[str, bytes]]:
    """Run `command` as root in a container of `image` (with `files`, a tar, copied to / first, and
    the build network), then commit the container as repository:tag.

    Return the new image's id and the files named in `fetch`. Raise BuildError (with the
    command's "ERROR:" lines) when the command fails, StepTimeout when it runs out of time.
    """
    engine = client(timeout=timeout + 30)
    output: collections.deque[str] = collections.deque(maxlen=MAX_KEPT_OUTPUT)
    try:
        container = engine.containers.create(
            image, command=command, user="root", environment=environment or {}, volumes=volumes or {},
            network_mode=settings.AIRDOCK_BUILD_NETWORK, mem_limit=memory, memswap_limit=-1, detach=True,
            labels={"io.airdock.step": "runtime image"},
        )
    except docker.errors.ImageNotFound as exc:
        raise BuildError(f"The image {image} is not in the Docker engine: run `make runtime-image`.") from exc
    except docker.errors.APIError as exc:
        raise BuildError(f"Cannot start a container of {image}: {exc.explanation or exc}") from exc

    def sink(line: str) -> None:
        output.append(line)
        on_line(line)

    try:
        if files and not container.put_archive("/", files):
            raise BuildError(f"Cannot copy files into the container of {image}.")
        container.start()
        deadline = time.monotonic() + timeout
        lines = _Lines(sink)
        for chunk in container.logs(stream=True, follow=True):
            lines.feed(chunk.decode("utf-8", "replace"))
            if time.monotonic() > deadline:
                with contextlib.suppress(docker.errors.APIError):
                    container.kill()
                raise StepTimeout(f"Building {repository}:{tag} took longer than {timeout} s and was stopped.")
        lines.close()
        status = int(container.wait(timeout=60).get("StatusCode", 1))
        if status != 0:
            causes = [l.removeprefix("ERROR: ") for l in output if l.startswith("ERROR: ")][:5]
            raise BuildError(f"Building {repository}:{tag} failed: {' '.join(causes) or f'exit code {status}, see the log'}")
        fetched = _fetch(container, fetch)
        committed = container.commit(repository=repository, tag=tag, changes=['CMD ["/bin/bash"]'])
        return committed.id, fetched
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)


def image_file(image: str, path: str, *, limit: int = 1024 * 1024) -> bytes | None:
    """Read one small file out of an image without running it (None when it is not there)."""
    engine = client()
    container = engine.containers.create(image, command=["true"], network_disabled=True)
    try:
        return _fetch(container, [path], limit=limit).get(path)
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)


def _fetch(container, paths: Iterable[str], *, limit: int = 64 * 1024 * 1024) -> dict[str, bytes]:
    """The files at `paths` in a container (missing ones, and ones over `limit`, left out)."""
    fetched: dict[str, bytes] = {}
    for path in paths:
        try:
            stream, stat = container.get_archive(path)
        except docker.errors.NotFound:
            continue
        if stat.get("size", 0) > limit:
            continue
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            member = archive.next()
            extracted = archive.extractfile(member) if member else None
            if extracted is not None:
                fetched[path] = extracted.read()
    return fetched


def image_remove(name: str) -> bool:
    """Remove a tag (the image goes when nothing else uses it); False when it is not there."""
    try:
        client().images.remove(name, noprune=False)
        return True
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:
        raise DockerError(f"Cannot remove the image {name}: {exc.explanation or exc}") from exc
