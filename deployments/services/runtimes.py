"""Astro Runtime base images → the local runtime images of `make runtime-image`."""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings


@dataclass
class Resolution:
    requested: str  # as the Dockerfile names it
    image: str  # what the build uses
    line: str | None  # the local Airflow line, or None when no rule covers the image
    warning: str = ""


FROM_RE = re.compile(r"^(\s*FROM\s+)(?:--platform=\S+\s+)?(\S+)(.*)$", re.IGNORECASE)


def runtime_resolve(image: str) -> Resolution:
    """Map an Astro Runtime image to the local image of its line (setting AIRDOCK_BASE_IMAGE_MAP)."""
    for rule in settings.AIRDOCK_BASE_IMAGE_MAP:
        match = re.fullmatch(rule["match"], image)
        if not match:
            continue
        version = match.group("version")
        base = "-base" if "-base" in (match.groupdict().get("suffix") or "") else ""
        for line, pattern in rule["lines"].items():
            if re.fullmatch(pattern, version):
                return Resolution(image, f"{settings.AIRDOCK_RUNTIME_IMAGE}:{line}{base}", line)
        line = rule["default_line"]
        local = f"{settings.AIRDOCK_RUNTIME_IMAGE}:{line}{base}"
        return Resolution(
            image, local, line,
            warning=f"Runtime version {version} of {image} is not known here; using {local} (the {line} line).",
        )
    return Resolution(image, image, None)


def dockerfile_rewrite(text: str) -> tuple[str, list[Resolution]]:
    """Rewrite FROM lines that name an Astro Runtime image; return the new text and what was mapped.

    Stage names (`FROM build AS x`, `FROM x`) and images no rule covers are left as they are.
    """
    stages: set[str] = set()
    resolutions: list[Resolution] = []
    out = []
    for line in text.splitlines(keepends=True):
        match = FROM_RE.match(line)
        if not match:
            out.append(line)
            continue
        head, image, rest = match.groups()
        alias = re.search(r"\bAS\s+(\S+)", rest, re.IGNORECASE)
        if image not in stages and "$" not in image:
            resolution = runtime_resolve(image)
            resolutions.append(resolution)
            image = resolution.image
        if alias:
            stages.add(alias.group(1))
        out.append(f"{head}{image}{rest}" + ("\n" if line.endswith("\n") else ""))
    return "".join(out), resolutions


def airflow_change(before: str, after: str) -> str:
    """"Airflow 2.10.5 → 3.1.8" when the major version changes, else ""."""
    if not before or not after or before.split(".")[0] == after.split(".")[0]:
        return ""
    return f"Airflow {before} → {after}"
