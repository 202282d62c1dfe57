import io
import tarfile

import pytest

from airdock_cli.main import CliError, ignored, pack_project
from tests.projects import make_project


def names(data: bytes) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return set(archive.getnames())


def test_it_honours_dockerignore_when_packing(tmp_path):
    project = make_project(tmp_path / "p")
    (project / ".dockerignore").write_text("*.md\n.env\nscratch/\n!keep.md\n")
    (project / "keep.md").write_text("k")
    (project / "scratch").mkdir()
    (project / "scratch" / "x.py").write_text("x")
    packed = names(pack_project(project))
    assert "Dockerfile" in packed and "dags/example_dag.py" in packed and "keep.md" in packed
    assert not {"README.md", ".env", "scratch/x.py"} & packed


def test_it_packs_only_dags_for_a_dag_deploy(tmp_path):
    packed = names(pack_project(make_project(tmp_path / "p"), dags_only=True))
    assert packed == {"dags/example_dag.py", ".astro/config.yaml"}


def test_it_explains_what_is_not_a_project(tmp_path):
    with pytest.raises(CliError, match="no Dockerfile"):
        pack_project(tmp_path)


@pytest.mark.parametrize("rel, patterns, expected", [
    ("a/b/c.pyc", ["**/*.pyc"], True), ("logs/x", ["logs/"], True), ("dags/x.py", ["*"], True),
    ("dags/x.py", ["*", "!dags"], False), ("include/x.py", ["include/*.txt"], False),
])
def test_it_matches_dockerignore_like_docker(rel, patterns, expected):
    assert ignored(rel, patterns) is expected
