"""What the check steps (DAG parse, pytest) share: the files copied into the check container,
where the DAGs come from, and the container's environment."""
from __future__ import annotations

from pathlib import Path

from ....integrations import containers, engine
from ... import archives, bundles
from ..context import RunContext

CHECK_DIR = "/tmp/airdock-check"  # a volume of the check container's own; the rest of its root is read-only
PROJECT_IN_CHECK = f"{CHECK_DIR}/project"
OUT_DIR = f"{CHECK_DIR}/out"  # where a check may write what is read back (pytest's JUnit report)
# Runs inside the deploy's image, never imported here.
PARSE_SCRIPT = (Path(__file__).resolve().parents[3] / "checks" / "parse_dags.py").read_bytes()


def check_files(ctx: RunContext, *, with_tests: bool) -> bytes:
    """The parse script plus the deploy's dags/ (and tests/) as a tar for the check container."""
    return files_for_checks(ctx.project, dags_source(ctx), with_tests=with_tests)


def files_for_checks(project: Path, dags: Path | None, *, with_tests: bool) -> bytes:
    """A tar to unpack at CHECK_DIR: the parse script, the project's dags/ (.astro/, tests/), out/."""
    files: list[tuple[str, bytes]] = [("parse_dags.py", PARSE_SCRIPT)]
    dirs = ["project", "project/dags", "out"]
    for sub in ["dags", ".astro"] + (["tests"] if with_tests else []):
        base = dags if sub == "dags" else project / sub
        if base is None or not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = f"project/{sub}/{path.relative_to(base).as_posix()}"
            if path.is_dir():
                dirs.append(rel)
            elif path.is_file():
                files.append((rel, path.read_bytes()))
    return containers.tar_of(files, dirs=dirs)


def dags_source(ctx: RunContext) -> Path | None:
    """Where the DAGs to check come from: the upload, else the deployment's current bundle."""
    if (ctx.project / "dags").is_dir():
        return ctx.project / "dags"
    version = ctx.deployment.desired_dag_bundle_version
    if not version:
        return None
    target = ctx.root / "current-bundle"
    if not (target / "dags").is_dir():
        data, _ = bundles.bundle_fetch(deployment=ctx.deployment, version=version)
        target.mkdir(exist_ok=True)
        bundle_file = ctx.root / "current-bundle.tar.gz"
        bundle_file.write_bytes(data)
        info = archives.archive_inspect(bundle_file, require="dags")
        archives.archive_extract(bundle_file, info, target)
    return target / "dags"


def check_environment() -> dict[str, str]:
    return {
        "AIRFLOW__CORE__DAGS_FOLDER": f"{PROJECT_IN_CHECK}/dags", "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # The image's AIRFLOW_HOME is read-only here: Airflow's config and database live in memory.
        "AIRFLOW_HOME": "/tmp/airflow", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////tmp/airflow/airflow.db",
    }


def check_image(ctx: RunContext) -> str:
    """The image the checks run in: the one built or named; for a DAG-only deploy, the image the
    deployment runs now, pulled from the registry when this engine no longer has it."""
    if not ctx.image:
        deployment = ctx.deployment
        # By digest: the very image the deployment runs, whatever a tag points to now.
        ctx.image = f"{deployment.desired_image_repository}@{deployment.desired_image_digest}" if deployment.desired_image_digest else deployment.desired_image
        if not engine.image_exists(ctx.image):
            engine.image_pull(ctx.image, on_line=ctx.log)
    return ctx.image
