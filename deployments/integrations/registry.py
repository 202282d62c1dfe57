"""The image registry: push a built image (with the configured credentials) and ask whether the
registry still holds a digest. Both go through the Docker engine, which speaks to the registry."""
from __future__ import annotations

from collections.abc import Callable

import docker.errors
import requests.exceptions

from .engine import DockerError, LineSink, client, registry_auth


class PushError(DockerError):
    pass


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
