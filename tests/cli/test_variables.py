"""`airdock deployment variable ...`: KEY=VALUE parsing, what each command asks the portal, and the
list's table with secret values masked (against a fake portal)."""
import pytest

from airdock_cli import main as cli
from airdock_cli import variables
from airdock_cli.client import CliError

ROWS = [
    {"key": "API_KEY", "value": None, "is_secret": True, "updated_at": "2026-12-01T10:00:00.123Z"},
    {"key": "GREETING", "value": "hello\nworld", "is_secret": False, "updated_at": "2026-12-01T11:00:00Z"},
]


class Portal:
    """Records every call; answers GET with `rows`, writes with what a portal would."""

    def __init__(self, rows=()):
        self.rows, self.calls = list(rows), []

    def request(self, method, path, **_):
        self.calls.append((method, path, None))
        return self.rows if method == "GET" else None

    def json(self, method, path, payload):
        self.calls.append((method, path, payload))
        if path.endswith("/import"):
            return {"created": 2, "updated": 1, "unchanged": 0}
        key = payload.get("key") or path.rsplit("/", 1)[1]
        return {"key": key, "value": None if payload.get("is_secret") else payload["value"],
                "is_secret": bool(payload.get("is_secret")), "updated_at": "2026-12-01T12:00:00Z"}


def run(portal, monkeypatch, *argv):
    monkeypatch.setenv("AIRDOCK_URL", "http://portal")
    monkeypatch.setenv("AIRDOCK_API_TOKEN", "adk_x")
    monkeypatch.setattr(cli, "Client", lambda url, token: portal)
    return cli.main(["deployment", "variable", *argv])


@pytest.mark.parametrize("pairs, expected", [
    (["A=1"], [("A", "1")]), (["A="], [("A", "")]), (["URL=postgres://u:p@h/db?x=1"], [("URL", "postgres://u:p@h/db?x=1")]),
    (["A=1", "B=two words"], [("A", "1"), ("B", "two words")]),
])
def test_it_parses_key_value_pairs(pairs, expected):
    assert variables.parse_pairs(pairs) == expected


@pytest.mark.parametrize("pairs", [["hunter2"], ["A=1", "=x"]])
def test_it_refuses_what_is_not_key_value_without_echoing_it(pairs):
    with pytest.raises(CliError, match=f"Argument {len(pairs)} is not KEY=VALUE") as caught:
        variables.parse_pairs(pairs)
    assert "hunter2" not in str(caught.value)


def test_the_list_masks_secret_values(capsys, monkeypatch):
    assert run(Portal(ROWS), monkeypatch, "list", "--deployment-id", "7") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["KEY", "VALUE", "SECRET", "UPDATED"]
    assert lines[1].split() == ["API_KEY", "******", "yes", "2026-12-01", "10:00:00"]
    assert lines[2].split() == ["GREETING", "hello\\nworld", "no", "2026-12-01", "11:00:00"]


def test_the_list_says_when_there_is_nothing(capsys, monkeypatch):
    run(Portal(), monkeypatch, "list", "--deployment-id", "7")
    assert capsys.readouterr().out == "No environment variables.\n"


def test_create_posts_each_pair_and_refuses_keys_already_set(capsys, monkeypatch):
    portal = Portal([{"key": "OLD", "value": "1", "is_secret": False, "updated_at": ""}])
    assert run(portal, monkeypatch, "create", "--deployment-id", "7", "A=1", "B=x=y", "--secret") == 0
    assert portal.calls[1:] == [
        ("POST", "/deployments/7/variables", {"key": "A", "value": "1", "is_secret": True}),
        ("POST", "/deployments/7/variables", {"key": "B", "value": "x=y", "is_secret": True}),
    ]
    assert "Created A (secret)." in capsys.readouterr().out
    portal.calls.clear()
    assert run(portal, monkeypatch, "create", "--deployment-id", "7", "NEW=1", "OLD=2") == 2
    assert "Already set: OLD" in capsys.readouterr().err and [c[0] for c in portal.calls] == ["GET"]


def test_create_load_imports_a_dotenv_file(tmp_path, capsys, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("export A=1\nB='two'\n")
    portal = Portal()
    assert run(portal, monkeypatch, "create", "--deployment-id", "7", "--load", "--env", str(env)) == 0
    assert portal.calls == [("POST", "/deployments/7/variables/import", {"text": "export A=1\nB='two'\n", "is_secret": False})]
    assert "2 created, 1 updated, 0 unchanged" in capsys.readouterr().out
    assert run(portal, monkeypatch, "create", "--deployment-id", "7", "--load", "--env", str(tmp_path / "missing")) == 2
    assert run(portal, monkeypatch, "create", "--deployment-id", "7") == 2  # nothing to create


def test_update_keeps_the_kind_unless_told_secret_and_delete_names_the_key(monkeypatch):
    portal = Portal()
    run(portal, monkeypatch, "update", "--deployment-id", "7", "A=2")
    run(portal, monkeypatch, "update", "--deployment-id", "7", "A=3", "--secret")
    run(portal, monkeypatch, "delete", "--deployment-id", "7", "A")
    assert portal.calls == [
        ("PUT", "/deployments/7/variables/A", {"value": "2"}),
        ("PUT", "/deployments/7/variables/A", {"value": "3", "is_secret": True}),
        ("DELETE", "/deployments/7/variables/A", None),
    ]
