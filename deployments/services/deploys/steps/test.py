"""TESTING: run the project's own pytest suite in the deploy's image (`astro deploy --pytest`)."""
from __future__ import annotations

from defusedxml import DefusedXmlException, ElementTree
from django.conf import settings

from ....integrations import containers
from ..context import CheckFailed, RunContext
from .checks import (
    CHECK_DIR,
    OUT_DIR,
    PROJECT_IN_CHECK,
    check_environment,
    check_files,
    check_image,
)


def pytest(ctx: RunContext) -> None:
    target = ctx.deploy.test_path or "tests"
    if not (ctx.project / target).exists() and not (ctx.project / "tests").exists():
        ctx.warn(f"pytest was asked for, but the project has no {target}/ to run.")
        return
    junit = f"{OUT_DIR}/junit.xml"
    result = containers.container_run(
        image=check_image(ctx), step="pytest",
        command=["python", "-m", "pytest", target, "-p", "no:cacheprovider", f"--junitxml={junit}",
                 "-q", "-rfE", "--color=no"],
        files=check_files(ctx, with_tests=True), files_at=CHECK_DIR, working_dir=PROJECT_IN_CHECK,
        environment=check_environment(), timeout=settings.AIRDOCK_CHECK_TIMEOUT,
        memory=settings.AIRDOCK_CHECK_MEMORY, on_line=ctx.log, fetch=[junit], labels=ctx.container_labels,
    )
    summary = junit_summary(result.files.get(junit, b""))
    summary["exit_code"] = result.exit_code
    ctx.deploy.test_results = summary
    ctx.save("test_results")
    ctx.log(f"pytest: {summary['passed']} passed, {summary['failed']} failed, {summary['errors']} errors, {summary['skipped']} skipped.")
    if result.exit_code == 5:
        ctx.warn(f"pytest collected no tests in {target}.")
    elif result.exit_code != 0:
        names = ", ".join(f["name"] for f in summary["failures"][:5]) or "see the log"
        raise CheckFailed(f"The project's tests failed ({summary['failed'] + summary['errors']} of {summary['total']}): {names}")


def junit_summary(xml: bytes) -> dict:
    summary = {"total": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0, "failures": []}
    if not xml:
        return summary
    try:
        root = ElementTree.fromstring(xml)  # defusedxml: no entities, no external references
    except (ElementTree.ParseError, DefusedXmlException):
        summary["unreadable"] = True
        return summary
    for case in root.iter("testcase"):
        summary["total"] += 1
        name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if case.find("skipped") is not None:
            summary["skipped"] += 1
        elif problem is not None:
            summary["failed" if problem.tag == "failure" else "errors"] += 1
            summary["failures"].append({"name": name, "message": (problem.get("message") or "")[:2000]})
        else:
            summary["passed"] += 1
    return summary
