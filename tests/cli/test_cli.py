import io
import tarfile

import pytest

from airdock_cli import main as cli
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

    from deployments.services import archives

    assert cli.NEVER_UPLOADED_NAMES == archives.EXCLUDED_NAMES and cli.NEVER_UPLOADED_DIRS == archives.EXCLUDED_DIRS
    root = tmp_path / "p"
    for name in ["Dockerfile", "dags/a.py", ".env.production", ".aws/credentials", "include/id_rsa", "dags/key.pem"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    with tarfile.open(fileobj=io.BytesIO(cli.pack_project(root))) as archive:
        assert sorted(archive.getnames()) == ["Dockerfile", "dags/a.py"]


class Answers:
    """A portal that answers GET /deployments/{id} with one state after another (the last one stays)."""

    def __init__(self, *states):
        self.states = list(states)

    def request(self, method, path):
        assert (method, path) == ("GET", "/deployments/7")
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def deployment(status, running="sha256:old", reason=""):
    component = {"name": "scheduler", "state": "healthy", "running_image_digest": running, "running_dag_bundle_version": "b1"}
    return {"name": "etl", "current_deploy_id": 3, "status": status, "status_reason": reason, "desired_image_digest": "sha256:new",
            "desired_dag_bundle_version": "b1", "components": [component, {**component, "name": "db", "running_image_digest": ""}]}


def test_deploy_wait_returns_once_every_component_runs_the_new_versions(capsys, monkeypatch):
    monkeypatch.setattr(cli.time, "sleep", lambda _: None)
    portal = Answers(deployment("DEPLOYING", reason="Waiting for scheduler"), deployment("HEALTHY"),
                     deployment("HEALTHY", running="sha256:new"))
    assert cli.wait_until_live(portal, 7, {"id": 3}, deadline=cli.time.monotonic() + 60) == 0
    out = capsys.readouterr().out
    assert "DEPLOYING: Waiting for scheduler" in out and "Deployment etl is HEALTHY on deploy 3" in out


def test_deploy_wait_gives_up_after_the_wait_time_and_says_so(capsys, monkeypatch):
    monkeypatch.setattr(cli.time, "sleep", lambda _: None)
    assert cli.wait_until_live(Answers(deployment("DEPLOYING")), 7, {"id": 3}, deadline=cli.time.monotonic() - 1) == 1
    assert "not running deploy 3 yet after --wait-time" in capsys.readouterr().err


def test_deploy_wait_fails_with_the_reason_when_the_deployment_turns_unhealthy(capsys, monkeypatch):
    monkeypatch.setattr(cli.time, "sleep", lambda _: None)
    reason = "scheduler: no heartbeat for 95 s"
    assert cli.wait_until_live(Answers(deployment("UNHEALTHY", reason=reason)), 7, {"id": 3}, deadline=cli.time.monotonic() + 60) == 1
    assert f"Deployment etl is UNHEALTHY: {reason}" in capsys.readouterr().err
