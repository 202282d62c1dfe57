"""What a deploy will do, decided once when it is created and stored as its step rows."""
from __future__ import annotations

from pathlib import PurePosixPath

from portal.errors import Invalid

from ...models import Deploy

State = Deploy.State
Kind = Deploy.Kind


def deploy_plan(deploy: Deploy) -> list[str]:
    """The steps a deploy goes through, in order; the pipeline runs exactly these."""
    if deploy.is_rollback:
        return [State.ACTIVATING]
    steps: list[str] = []
    if deploy.archive:
        steps.append(State.UNPACKING)
    if deploy.kind != Kind.DAGS:
        steps.append(State.BUILDING)
    steps.append(State.PARSING)
    if deploy.run_pytest:
        steps.append(State.TESTING)
    if deploy.kind != Kind.DAGS:
        steps.append(State.PUSHING)
    if deploy.archive and deploy.kind in (Kind.DAGS, Kind.IMAGE_AND_DAGS):
        steps.append(State.UPLOADING_DAGS)
    steps.append(State.ACTIVATING)
    return steps


def archive_requirement(*, kind: str, image_name: str) -> str:
    """What an uploaded archive must hold: a whole project to build, or only dags/ (a DAG-only
    deploy, or DAGs beside a prebuilt image)."""
    return "dags" if kind == Kind.DAGS or image_name else "project"


def clean_test_path(test_path: str) -> str:
    if not test_path:
        return ""
    path = PurePosixPath(test_path.strip().lstrip("./"))
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] != "tests":
        raise Invalid(f"The test path {test_path!r} must lie under tests/, e.g. tests/dags.")
    return str(path)
