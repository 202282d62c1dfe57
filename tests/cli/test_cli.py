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
    # As Docker: `*` stops at `/`, patterns are cleaned, `**` spans any number of folders.
    ("README.md", ["*.md"], True), ("include/README.md", ["*.md"], False), ("include/README.md", ["**/*.md"], True),
    ("secret.txt", ["./secret.txt"], True), ("a/b/secret.txt", ["a//b/../b/secret.txt"], True),
    ("include/sql/q.sql", ["include/**"], True), ("include/sql/q.sql", ["include/**/q.sql"], True),
    ("include/q.sql", ["include/**/q.sql"], True), ("include/notes.txt", ["include/note?.txt"], True),
    ("include/x.pyc", ["include/*.py[cod]"], True), ("include/x.py", ["include/*.py[!c]"], False),
    ("tests/a.py", ["/tests"], True), ("x", ["!x"], False), ("scratch/a/b.txt", ["scratch", "!scratch/a/b.txt"], False),
])
def test_it_matches_dockerignore_like_docker(rel, patterns, expected):
    assert ignored(rel, patterns) is expected


def test_the_cli_never_uploads_what_the_portal_never_ships(tmp_path):
    """The same never-ship list on both sides (the portal's is in deployments.services.archives)."""
    import tarfile

    from airdock_cli import main as cli
    from deployments.services import archives

    assert cli.NEVER_UPLOADED_NAMES == archives.EXCLUDED_NAMES and cli.NEVER_UPLOADED_DIRS == archives.EXCLUDED_DIRS
    root = tmp_path / "p"
    for name in ["Dockerfile", "dags/a.py", ".env.production", ".aws/credentials", "include/id_rsa", "dags/key.pem"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    with tarfile.open(fileobj=io.BytesIO(cli.pack_project(root))) as archive:
        assert sorted(archive.getnames()) == ["Dockerfile", "dags/a.py"]
