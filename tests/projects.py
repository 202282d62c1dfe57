"""Sample Astro projects, laid out as `astro dev init` lays them out, packed for upload."""
from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

# The Runtime version each sample project names, by Airflow line (all prebuilt by `make runtime-image`).
RUNTIME_VERSIONS = {"3.1": "3.1-21", "3.2": "3.2-10", "2.10": "12.12.0"}
RUNTIME_IMAGES = {
    "3.1": f"astrocrpublic.azurecr.io/runtime:{RUNTIME_VERSIONS['3.1']}",
    "3.2": f"astrocrpublic.azurecr.io/runtime:{RUNTIME_VERSIONS['3.2']}",
    "2.10": f"quay.io/astronomer/astro-runtime:{RUNTIME_VERSIONS['2.10']}",
}

GOOD_DAG_3 = '''\
from datetime import datetime

from airflow.sdk import dag, task

from include.helpers import greeting


@dag(start_date=datetime(2025, 1, 1), schedule=None, catchup=False, tags=["example"])
def example_dag():
    @task
    def hello():
        return greeting("airdock")

    hello()


example_dag()
'''

GOOD_DAG_2 = GOOD_DAG_3.replace("from airflow.sdk import dag, task", "from airflow.decorators import dag, task")

BROKEN_DAG = '''\
from datetime import datetime

from airflow.sdk import dag
import this_module_does_not_exist  # line 4 fails


@dag(start_date=datetime(2025, 1, 1), schedule=None)
def broken():
    pass


broken()
'''

DAG_TEST = '''\
from airflow.models import DagBag


def test_dags_import_without_errors():
    bag = DagBag(include_examples=False)
    assert not bag.import_errors
'''

FAILING_TEST = '''\
def test_it_fails_on_purpose():
    assert 1 + 1 == 3, "the project's own test fails"
'''


def make_project(
    root: Path,
    *,
    line: str = "3.1",
    dags: dict[str, str] | None = None,
    tests: dict[str, str] | None = None,
    requirements: str = "",
    packages: str = "",
    extra: dict[str, str] | None = None,
) -> Path:
    """Write an Astro project to `root` and return it."""
    files = {
        "Dockerfile": f"FROM {RUNTIME_IMAGES[line]}\n",
        ".astro/config.yaml": "project:\n  name: sample\n",
        ".dockerignore": "astro\n.git\n.env\nairflow_settings.yaml\nlogs/\n.venv\nairflow.db\nairflow.cfg\n",
        ".env": "SECRET_TOKEN=do-not-ship-me\n",
        "airflow_settings.yaml": "airflow:\n  connections: []\n  variables: []\n",
        "include/__init__.py": "",
        "include/helpers.py": "def greeting(name):\n    return f'hello {name}'\n",
        "plugins/.gitkeep": "",
        "requirements.txt": requirements,
        "packages.txt": packages,
        "README.md": "# sample project\n",
    }
    for name, text in (dags if dags is not None else {"example_dag.py": GOOD_DAG_3 if line.startswith("3.") else GOOD_DAG_2}).items():
        files[f"dags/{name}"] = text
    for name, text in (tests if tests is not None else {"test_dag_example.py": DAG_TEST}).items():
        files[f"tests/dags/{name}"] = text
    files.update(extra or {})
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def pack(root: Path, fmt: str = "tar.gz") -> bytes:
    """Pack a project folder as the browser or CLI would upload it."""
    buffer = io.BytesIO()
    paths = sorted(p for p in root.rglob("*") if p.is_file())
    if fmt == "zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in paths:
                archive.write(path, path.relative_to(root).as_posix())
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for path in paths:
                archive.add(path, path.relative_to(root).as_posix())
    return buffer.getvalue()
