"""The environment variables routes: list, create, update, delete, import. A secret's value never
appears in an answer; an outsider gets 404; a role that may not manage the deployment gets 403."""
import json

from deployments.models import EnvironmentVariable
from deployments.services import variables as variable_services
from tenancy.models import AuditEvent, WorkspaceMembership

from .conftest import auth, make_token

Role = WorkspaceMembership.Role
SECRET = "s3cr3t-do-not-show"


def url(deployment, rest=""):
    return f"/api/v1/deployments/{deployment.pk}/variables{rest}"


def send(client, method, path, raw, payload=None):
    body = {} if payload is None else {"data": json.dumps(payload), "content_type": "application/json"}
    return getattr(client, method)(path, **body, **auth(raw))


def test_it_creates_lists_updates_and_deletes_variables(client, deployment, owner_token):
    made = send(client, "post", url(deployment), owner_token, {"key": "GREETING", "value": "hello"})
    assert made.status_code == 201
    assert made.json()["key"] == "GREETING" and made.json()["value"] == "hello" and made.json()["is_secret"] is False
    again = send(client, "post", url(deployment), owner_token, {"key": "GREETING", "value": "x"})
    assert again.status_code == 409 and "update it instead" in again.json()["detail"]
    changed = send(client, "put", url(deployment, "/GREETING"), owner_token, {"value": "bonjour"})
    assert changed.status_code == 200 and changed.json()["value"] == "bonjour"
    listed = send(client, "get", url(deployment), owner_token).json()
    assert [(v["key"], v["value"], v["is_secret"]) for v in listed] == [("GREETING", "bonjour", False)]
    assert listed[0]["updated_at"]
    assert send(client, "delete", url(deployment, "/GREETING"), owner_token).status_code == 204
    missing = send(client, "delete", url(deployment, "/GREETING"), owner_token)
    assert missing.status_code == 404 and "no environment variable GREETING" in missing.json()["detail"]
    assert send(client, "put", url(deployment, "/NOPE"), owner_token, {"value": "1"}).status_code == 404
    actions = set(AuditEvent.objects.filter(actor_kind="token").values_list("action", flat=True))
    assert actions == {"deployment.variable.set", "deployment.variable.delete"}


def test_a_secret_value_never_appears_in_any_answer(client, deployment, owner_token, author_token):
    answers = [
        send(client, "post", url(deployment), owner_token, {"key": "API_KEY", "value": SECRET, "is_secret": True}),
        send(client, "put", url(deployment, "/API_KEY"), owner_token, {"value": SECRET + "-2"}),
        send(client, "post", url(deployment, "/import"), owner_token, {"text": f"API_KEY={SECRET}-3\nOTHER={SECRET}-4", "is_secret": True}),
        send(client, "get", url(deployment), owner_token),
        send(client, "get", url(deployment), author_token),
        send(client, "put", url(deployment, "/API_KEY"), owner_token, {"is_secret": False}),  # refused, with a message
        send(client, "get", f"/api/v1/deployments/{deployment.pk}", owner_token),
    ]
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 200, 400, 200]
    assert answers[0].json()["value"] is None and answers[0].json()["is_secret"] is True
    assert answers[2].json() == {"created": 1, "updated": 1, "unchanged": 0}
    assert "secret stays secret" in answers[5].json()["detail"]
    for answer in answers:
        assert SECRET not in answer.content.decode()
    assert {v["key"]: v["value"] for v in answers[3].json()} == {"API_KEY": None, "OTHER": None}
    assert EnvironmentVariable.objects.get(key="API_KEY").value == SECRET + "-3"


def test_it_explains_bad_keys_and_bad_lines(client, deployment, owner_token):
    reserved = send(client, "post", url(deployment), owner_token, {"key": "AIRFLOW__CORE__EXECUTOR", "value": "x"})
    assert reserved.status_code == 400 and "reserved" in reserved.json()["detail"]
    bad = send(client, "post", url(deployment, "/import"), owner_token, {"text": "A=1\nnot a line\n"})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("Line 2")
    assert not EnvironmentVariable.objects.exists()


def test_a_token_without_the_manage_role_may_read_not_write(client, org, workspace, deployment, author_token):
    variable_services.variable_set(deployment=deployment, key="A", value="1", is_secret=False)
    member = make_token(org, Role.MEMBER, workspace=workspace)
    for raw in (author_token, member):
        assert send(client, "get", url(deployment), raw).status_code == 200
        writes = [
            send(client, "post", url(deployment), raw, {"key": "B", "value": "1"}),
            send(client, "put", url(deployment, "/A"), raw, {"value": "2"}),
            send(client, "delete", url(deployment, "/A"), raw),
            send(client, "post", url(deployment, "/import"), raw, {"text": "B=1"}),
        ]
        assert [w.status_code for w in writes] == [403] * 4
        assert "may not change a deployment's environment variables" in writes[0].json()["detail"]
    assert list(EnvironmentVariable.objects.values_list("key", "value")) == [("A", "1")]


def test_a_deployment_scoped_operator_token_manages_its_deployment(client, org, deployment):
    raw = make_token(org, Role.OPERATOR, deployment=deployment)
    assert send(client, "post", url(deployment), raw, {"key": "A", "value": "1"}).status_code == 201


def test_an_outsider_gets_404_on_every_variables_route(client, deployment, foreign_token):
    variable_services.variable_set(deployment=deployment, key="A", value="1", is_secret=False)
    answers = [
        send(client, "get", url(deployment), foreign_token),
        send(client, "post", url(deployment), foreign_token, {"key": "B", "value": "1"}),
        send(client, "put", url(deployment, "/A"), foreign_token, {"value": "2"}),
        send(client, "delete", url(deployment, "/A"), foreign_token),
        send(client, "post", url(deployment, "/import"), foreign_token, {"text": "B=1"}),
    ]
    assert [a.status_code for a in answers] == [404] * 5
    assert list(EnvironmentVariable.objects.values_list("key", "value")) == [("A", "1")]
