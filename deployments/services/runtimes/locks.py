"""The package set of one Astro Runtime version: its Airflow and provider versions from the table,
and everything else resolved as of its release date (`uv pip compile --exclude-newer`), so the same
Runtime version always gives the same packages. Locks are cached under AIRDOCK_RUNTIME_CACHE_DIR."""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Callable

from django.conf import settings

from ...integrations.engine import BuildError
from .table import RuntimeVersion

PYTHON = "3.11"  # Debian bookworm's, the Python of every local runtime image
PLATFORM = "x86_64-manylinux_2_36"
EXTRAS = "celery,postgres"  # what Astro Runtime images install Airflow with
# In Astronomer's provider reference, but not on the public package index.
NOT_PUBLIC = {"astronomer-providers-logging"}
# Not in Runtime images, but the checks need them (`astro deploy --pytest` runs the project's tests).
CHECK_TOOLS = ["pytest"]
LOCK_SCHEME = "v3"  # bump when the way locks are made changes: cached locks are then made again


def requirements(version: RuntimeVersion) -> list[str]:
    lines = [f"apache-airflow[{EXTRAS}]=={version.airflow}"]
    if version.airflow_major >= 3:  # named exactly, so a release PyPI marks yanked (core 3.1.4) still installs
        lines.append(f"apache-airflow-core=={version.airflow}")
    for name, pinned in sorted(version.providers.items()):
        if name not in NOT_PUBLIC:
            lines.append(f"{name}=={pinned}" if pinned else name)
    return lines + CHECK_TOOLS


def lock_path(version: RuntimeVersion) -> Path:
    return settings.AIRDOCK_RUNTIME_CACHE_DIR / "locks" / LOCK_SCHEME / f"{version.runtime}.txt"


def uv() -> str:
    return str(Path(sys.executable).with_name("uv"))


def _compile(command: list[str], version: RuntimeVersion) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, input="\n".join(requirements(version)) + "\n", capture_output=True, text=True,
        timeout=settings.AIRDOCK_RUNTIME_BUILD_TIMEOUT,
    )


def runtime_lock(version: RuntimeVersion, *, on_line: Callable[[str], None]) -> Path:
    """Resolve (or reuse) the version's lock file and return its path."""
    path = lock_path(version)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    cutoff = version.released + timedelta(days=1)
    pinned = sum(1 for v in version.providers.values() if v)
    on_line(f"Resolving Astro Runtime {version.runtime}'s packages as of {version.released}: Airflow {version.airflow}, "
            f"{len(version.providers)} providers ({pinned} at documented versions, the rest as of that date)")
    command = [
        uv(), "pip", "compile", "-", "--python-version", PYTHON, "--python-platform", PLATFORM,
        "--exclude-newer", cutoff.isoformat(), "--no-header", "--no-annotate", "--quiet", "-o", str(path) + ".tmp",
    ]
    result = _compile(command, version)
    if result.returncode != 0 and any(version.providers.values()):
        # Astronomer ships exactly the documented versions even where their metadata disagree
        # (Runtime 9.21.0: common-compat 1.2.2 wants Airflow >= 2.8, openlineage 1.14.0 wants
        # common-sql >= 1.20 next to common-sql 1.15.0): then the image's Airflow and the documented
        # pins override such bounds, as Astronomer's own build does.
        pins = [f"apache-airflow=={version.airflow}"] + [
            f"{name}=={pinned}" for name, pinned in sorted(version.providers.items()) if pinned and name not in NOT_PUBLIC
        ]
        override = path.with_suffix(".override")
        override.write_text("\n".join(pins) + "\n", encoding="utf-8")
        on_line("The documented provider versions disagree with their own metadata; resolving with them as overrides")
        result = _compile([*command, "--override", str(override)], version)
    if result.returncode != 0:
        detail = " ".join(result.stderr.strip().splitlines()[-6:])[:1500]
        raise BuildError(f"Cannot resolve Astro Runtime {version.runtime}'s packages: {detail}")
    Path(str(path) + ".tmp").replace(path)
    return path
