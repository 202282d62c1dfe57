"""The table of Astro Runtime versions (images/runtime/versions.json): for each version its
Airflow, Python, release date and the provider versions it ships, with where the row came from."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from django.conf import settings

NEW_SCHEME = re.compile(r"(\d+)\.(\d+)-(\d+)")  # 3.1-5: Airflow 3 and later
OLD_SCHEME = re.compile(r"(\d+)\.(\d+)\.(\d+)")  # 12.7.0: Airflow 2


@dataclass(frozen=True)
class RuntimeVersion:
    runtime: str
    airflow: str
    python: str
    released: date
    providers: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    source: str = ""
    yanked: bool = False

    @property
    def line(self) -> str:
        """Runtime 12.7.0 is of line "12"; Runtime 3.1-5 of line "3.1"."""
        return line_of(self.runtime)

    @property
    def key(self) -> tuple[int, ...]:
        return version_key(self.runtime)

    @property
    def image_ref(self) -> str:
        """The image a Dockerfile names for this version (Astro's registry of its naming scheme)."""
        if NEW_SCHEME.fullmatch(self.runtime):
            return f"astrocrpublic.azurecr.io/runtime:{self.runtime}"
        return f"quay.io/astronomer/astro-runtime:{self.runtime}"

    @property
    def airflow_major(self) -> int:
        return int(self.airflow.split(".")[0])

    def __str__(self) -> str:
        return f"Astro Runtime {self.runtime} (Airflow {self.airflow})"


def version_key(runtime: str) -> tuple[int, ...]:
    match = NEW_SCHEME.fullmatch(runtime) or OLD_SCHEME.fullmatch(runtime)
    if not match:
        raise ValueError(f"{runtime!r} is not an Astro Runtime version")
    return tuple(int(g) for g in match.groups())


def line_of(runtime: str) -> str:
    if NEW_SCHEME.fullmatch(runtime):
        return runtime.split("-")[0]
    return runtime.split(".")[0]


def table_path() -> Path:
    return Path(settings.AIRDOCK_RUNTIME_VERSIONS_FILE)


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> tuple[RuntimeVersion, ...]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rows = []
    for row in data["releases"]:
        rows.append(RuntimeVersion(
            runtime=row["runtime"], airflow=row["airflow"], python=row["python"],
            released=date.fromisoformat(row["released"]), providers=dict(row.get("providers") or {}),
            source=row.get("source", ""), yanked=bool(row.get("yanked")),
        ))
    return tuple(sorted(rows, key=lambda r: (r.released, r.key)))


def versions() -> tuple[RuntimeVersion, ...]:
    path = table_path()
    return _load(str(path), path.stat().st_mtime)


def get(runtime: str) -> RuntimeVersion | None:
    return next((v for v in versions() if v.runtime == runtime), None)


def lines() -> dict[str, list[RuntimeVersion]]:
    """Every line with its versions, oldest first."""
    found: dict[str, list[RuntimeVersion]] = {}
    for version in versions():
        found.setdefault(version.line, []).append(version)
    for rows in found.values():
        rows.sort(key=lambda r: r.key)
    return found


def newest(line: str) -> RuntimeVersion | None:
    rows = lines().get(line)
    return rows[-1] if rows else None


def nearest(runtime: str) -> RuntimeVersion | None:
    """The known version of the same line closest to `runtime`: the newest not after it, else the
    oldest (a version older than the table knows)."""
    rows = lines().get(line_of(runtime))
    if not rows:
        return None
    key = version_key(runtime)
    older = [r for r in rows if r.key <= key]
    return older[-1] if older else rows[0]


def next_major_line(version: RuntimeVersion) -> str | None:
    """The newest line of the next Airflow major (Airflow 2 → the newest 3.x line), if any."""
    later = [line for line, rows in lines().items() if rows[-1].airflow_major == version.airflow_major + 1]
    return max(later, key=lambda l: version_key(newest(l).runtime)) if later else None
