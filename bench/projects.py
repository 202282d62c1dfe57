"""Astro projects for the benchmarks, laid out as `astro dev init` lays them out."""
from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

# Airflow 3 on Runtime 3.2-10 (Airflow 3.2.2), the first without apache/airflow#55004 (README).
RUNTIME = {3: "astrocrpublic.azurecr.io/runtime:3.2-10", 2: "quay.io/astronomer/astro-runtime:12.12.0"}


def local_image(major: int) -> str:
    """The local image the portal builds a project of this line on, as the portal resolves it."""
    from deployments.services.runtimes.resolve import resolve

    return resolve(RUNTIME[major]).image
DAG = '''\
from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="{dag_id}", start_date=datetime(2025, 1, 1), schedule=None, catchup=False, tags=["bench"])
def pipeline():
    @task
    def extract():
        return list(range({n}))

    @task
    def load(rows):
        return len(rows)

    load(extract())


pipeline()
'''


def dag(dag_id: str, n: int = 10, major: int = 3) -> str:
    text = DAG.format(dag_id=dag_id, n=n)
    return text if major >= 3 else text.replace("from airflow.sdk import dag, task", "from airflow.decorators import dag, task")


def make_project(root: Path, *, dags: int = 10, major: int = 3, version: str = "1", requirements: str = "",
                 code: str = "") -> Path:
    """A project with `dags` DAG files; `version` goes into the first one's DAG id, so a new version
    is one new DAG and the other files are unchanged (as in a typical change). `code` goes into
    include/, which the image holds (the DAGs travel as a bundle): a new `code` is a new image."""
    files = {
        "Dockerfile": f"FROM {RUNTIME[major]}\n",
        ".astro/config.yaml": "project:\n  name: bench\n",
        ".dockerignore": "astro\n.git\n.env\nlogs/\n",
        "requirements.txt": requirements,
        "packages.txt": "",
        "include/__init__.py": f"VERSION = {code!r}\n" if code else "",
        "plugins/.gitkeep": "",
    }
    for i in range(dags):
        files[f"dags/pipeline_{i:03d}.py"] = dag(f"pipeline_{i:03d}" + (f"_v{version}" if i == 0 else ""), n=i, major=major)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def on_local_runtime(root: Path) -> None:
    """Point the project's FROM at the local Runtime image, as a user building by hand here would."""
    dockerfile = root / "Dockerfile"
    dockerfile.write_text(re.sub(r"^FROM \S+/runtime:(\S+)", r"FROM airdock/runtime:\1", dockerfile.read_text(), flags=re.MULTILINE))


def pack(root: Path) -> bytes:
    """An Astro project as the CLI uploads it: a .tar.gz of the folder."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(root.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    return buffer.getvalue()
