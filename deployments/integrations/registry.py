"""The image registry: push a built image (with the configured credentials) and ask whether the
registry still holds a digest (both through the Docker engine, which speaks to the registry);
delete an old image's manifest and collect the garbage (retention)."""
from __future__ import annotations

import subprocess
from collections.abc import Callable

import docker.errors
import requests
import requests.exceptions
from django.conf import settings

from .engine import DockerError, LineSink, client, registry_auth


class PushError(DockerError):
    pass


GC_FLAG = "airdock:registry-gc"  # set (in Redis) while the registry's garbage collection runs


def image_push(
    *, image: str, repository: str, tag: str, on_line: LineSink, timeout: int,
    on_progress: Callable[[str, str, int | None, int | None], None] | None = None,
) -> str:
    """Tag `image` as repository:tag, push it with the configured credentials; return the digest."""
    api = client(timeout=timeout).api
    try:
        api.tag(image, repository, tag=tag)
    except docker.errors.APIError as exc:
        raise PushError(f"Cannot tag the image for the registry: {exc.explanation or exc}") from exc
    auth = registry_auth()
    digest = ""
    reported: dict[str, str] = {}
    try:
        for event in api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth):
            if "error" in event:
                message = (event.get("errorDetail") or {}).get("message") or event["error"]
                raise PushError(f"The registry refused the push of {repository}:{tag}: {message}")
            if event.get("aux", {}).get("Digest"):
                digest = event["aux"]["Digest"]
            layer, status = event.get("id"), event.get("status", "")
            if status.startswith("Mounted from"):  # names another repository, maybe another tenant's
                status = "Layer already exists"
            if layer and status and on_progress is not None:
                detail = event.get("progressDetail") or {}
                on_progress(layer, status, detail.get("current"), detail.get("total"))
            if layer and status and status not in ("Pushing", "Waiting") and reported.get(layer) != status:
                reported[layer] = status
                on_line(f"{layer}: {status}")
            elif not layer and status:
                on_line(status)
    except requests.exceptions.RequestException as exc:
        raise PushError(f"Cannot reach the registry for {repository}: {exc}") from exc
    except docker.errors.APIError as exc:
        raise PushError(f"The push of {repository}:{tag} failed: {exc.explanation or exc}") from exc
    if not digest:
        raise PushError(f"The registry did not report a digest for {repository}:{tag}.")
    return digest


def registry_check(reference: str) -> None:
    """Ask the registry (through the engine) whether it still holds `repository@digest`."""
    auth = registry_auth()
    try:
        client().api.inspect_distribution(reference, auth_config=auth)
    except docker.errors.APIError as exc:
        raise PushError(f"The registry no longer has {reference}: {exc.explanation or exc}") from exc


def manifest_delete(repository: str, digest: str) -> bool:
    """Delete `repository@digest` from Airdock's registry (its tags go with it; the layers stay until
    garbage collection); False when it was not there. Needs the registry's deletes turned on."""
    host, _, name = repository.partition("/")
    scheme = "http" if settings.AIRDOCK_REGISTRY_INSECURE else "https"
    auth = registry_auth(repository)
    try:
        answer = requests.delete(f"{scheme}://{host}/v2/{name}/manifests/{digest}", timeout=30,
                                 auth=(auth["username"], auth["password"]) if auth else None)
    except requests.exceptions.RequestException as exc:
        raise PushError(f"Cannot reach the registry to delete {repository}@{digest}: {exc}") from exc
    if answer.status_code == 404:
        return False
    if answer.status_code == 405:
        raise PushError(f"The registry refuses deletes ({repository}@{digest}): turn on storage.delete.enabled in its configuration.")
    if answer.status_code >= 300:
        raise PushError(f"The registry refused to delete {repository}@{digest}: HTTP {answer.status_code} {answer.text[:200]}")
    return True


def garbage_collect(command: list[str]) -> str:
    """Run the registry's garbage collection (e.g. `docker-registry garbage-collect CONFIG`): the layers
    no manifest names any more are removed from its storage. Returns what it printed last."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PushError(f"The registry's garbage collection could not run ({' '.join(command)}): {exc}") from exc
    if done.returncode:
        raise PushError(f"The registry's garbage collection failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return (done.stdout.strip().splitlines() or [""])[-1]
