"""Which local image stands for the base image a Dockerfile names.

Astro Runtime images (`quay.io/astronomer/astro-runtime:12.7.0`, `astrocrpublic.azurecr.io/
runtime:3.1-5`, with `-base` and `-python-3.x` variants) resolve to the local image of that very
version (`airdock/runtime:12.7.0`, built on first use). A version newer than the table maps to the
nearest known one of its line, with a warning; an unknown line is refused, naming the supported
ones. Any other image is used as it is (pulled when this engine lacks it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from portal.errors import Invalid

from . import table
from .table import RuntimeVersion

RUNTIME_IMAGE = re.compile(
    r"(?:(?:quay\.io/astronomer/)?astro-runtime|(?:astrocrpublic\.azurecr\.io|quay\.io/astronomer)/runtime)"
    r":(?P<version>\d+\.\d+\.\d+|\d+\.\d+-\d+)(?P<suffix>(?:-python-3\.\d+|-base)*)"
)


@dataclass
class Resolution:
    requested: str  # as the Dockerfile names it
    image: str  # the local image the build uses
    version: RuntimeVersion | None = None  # None: not an Astro Runtime image
    base: bool = False  # the "-base" flavour (no ONBUILD triggers)
    python: str = ""  # a "-python-3.x" variant asked for
    warning: str = ""

    @property
    def is_runtime(self) -> bool:
        return self.version is not None


def local_image(version: RuntimeVersion, *, base: bool = False) -> str:
    return f"{settings.AIRDOCK_RUNTIME_IMAGE}:{version.runtime}{'-base' if base else ''}"


def supported_lines() -> str:
    return ", ".join(
        f"{line} ({rows[0].runtime}–{rows[-1].runtime}, Airflow {rows[0].airflow}–{rows[-1].airflow})"
        for line, rows in table.lines().items()
    )


def resolve(image: str) -> Resolution:
    match = RUNTIME_IMAGE.fullmatch(image)
    if not match:
        return Resolution(requested=image, image=image)
    requested, suffix = match.group("version"), match.group("suffix") or ""
    base = "-base" in suffix
    python = (re.search(r"-python-(3\.\d+)", suffix) or [None, ""])[1]
    version = table.get(requested)
    warning = ""
    if version is None:
        version = table.nearest(requested)
        if version is None:
            raise Invalid(
                f"{image} names Astro Runtime {requested}, of a line Airdock does not know. "
                f"Supported lines: {supported_lines()}."
            )
        warning = (
            f"Astro Runtime {requested} is not in Airdock's table of Runtime versions; using the nearest "
            f"known version of its line, {version.runtime} (Airflow {version.airflow})."
        )
    if version.yanked and not warning:
        warning = f"Astronomer withdrew (yanked) Astro Runtime {version.runtime}; move to a newer version of its line."
    return Resolution(
        requested=image, image=local_image(version, base=base), version=version, base=base, python=python,
        warning=warning,
    )
