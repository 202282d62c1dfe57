"""PARSING: import every DAG file in the deploy's image, as `astro deploy` does before it ships."""
from __future__ import annotations

import json

from django.conf import settings

from ....integrations import containers
from ...runtimes import airflow_change, airflow_known_issue
from ..context import CheckFailed, RunContext
from .checks import (
    CHECK_DIR,
    PROJECT_IN_CHECK,
    check_environment,
    check_files,
    check_image,
)

PARSE_MARK = "AIRDOCK_PARSE_RESULT "


def parse_in_image(image: str, files: bytes, *, on_line, labels: dict[str, str] | None = None) -> dict:
    """Import every DAG file in a container of `image` (no network); return the parse summary."""

    def sink(line: str) -> None:
        if not line.startswith(PARSE_MARK):
            on_line(line)

    result = containers.container_run(
        image=image, step="DAG parse",
        command=["python", f"{CHECK_DIR}/parse_dags.py", f"{PROJECT_IN_CHECK}/dags", PROJECT_IN_CHECK],
        files=files, files_at=CHECK_DIR, working_dir=PROJECT_IN_CHECK,
        environment=check_environment(), timeout=settings.AIRDOCK_CHECK_TIMEOUT,
        memory=settings.AIRDOCK_CHECK_MEMORY, on_line=sink, labels=labels,
    )
    marked = [l for l in result.output.splitlines() if l.startswith(PARSE_MARK)]
    if not marked:
        raise CheckFailed(
            f"The DAG parse did not finish (exit code {result.exit_code}); the image may lack Airflow. See the log."
        )
    return json.loads(marked[-1][len(PARSE_MARK):])


def parse(ctx: RunContext) -> None:
    summary = parse_in_image(check_image(ctx), check_files(ctx, with_tests=False), on_line=ctx.log,
                             labels=ctx.container_labels)
    deploy = ctx.deploy
    deploy.parse_results = summary
    deploy.airflow_version = summary.get("airflow_version", "") or deploy.airflow_version
    ctx.save("parse_results", "airflow_version")
    _note_airflow_version(ctx)
    failed = [f for f in summary["files"] if f["error"]]
    ctx.log(f"Parsed {len(summary['files'])} DAG files: {len(summary['dag_ids'])} DAGs, {len(failed)} import errors (Airflow {deploy.airflow_version}).")
    if failed:
        details = "; ".join(
            f"{f['file']}{' line ' + str(f['line']) if f['line'] else ''}: {last_line(f['error'])}" for f in failed
        )
        raise CheckFailed(f"{len(failed)} DAG file(s) failed to import: {details}")


def _note_airflow_version(ctx: RunContext) -> None:
    """Say what to know of the image's Airflow version, and when this deploy moves the deployment from
    one Airflow major version to another."""
    if ctx.deploy.kind == ctx.deploy.Kind.DAGS:
        return
    if issue := airflow_known_issue(ctx.deploy.airflow_version):
        ctx.log(f"NOTE: {issue}")
    change = airflow_change(ctx.deployment.desired_airflow_version, ctx.deploy.airflow_version)
    if change:
        ctx.deploy.airflow_change = change
        ctx.save("airflow_change")
        ctx.log(f"NOTE: this deploy moves {ctx.deployment.name} from {change.replace(' → ', ' to Airflow ')}.")


def last_line(text: str) -> str:
    lines = [l.strip() for l in (text or "").splitlines() if l.strip()]
    return lines[-1] if lines else "import failed"
