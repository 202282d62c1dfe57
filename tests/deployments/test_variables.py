"""A deployment's environment variables: the key rules (reserved keys included), a secret stays
secret, .env import, audit records without values, values encrypted at rest."""
import pytest
from django.db import connection

from deployments import selectors
from deployments.models import RESERVED_KEYS, EnvironmentVariable, is_reserved_key
from deployments.services import variables
from portal.errors import Conflict, Invalid, NotFound
from tenancy.audit import Actor
from tenancy.models import AuditEvent


@pytest.fixture
def rollouts(monkeypatch, deployment):
    """The deployments handed to the data plane (reconcile_soon), by id."""
    calls = []
    monkeypatch.setattr(variables.runtime, "reconcile_soon", calls.append)
    deployment.desired_image_digest = "sha256:" + "a" * 64  # deployed: a change rolls out
    deployment.save()
    return calls


def put(deployment, key, value, is_secret=False, **kw):
    return variables.variable_set(deployment=deployment, key=key, value=value, is_secret=is_secret, **kw)


def raw_values(deployment):
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM deployments_environmentvariable WHERE deployment_id = %s", [deployment.pk])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize("key", ["A", "_x", "MY_SETTING_2", "a" * 255, "AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW_VAR_FOO"])
def test_it_accepts_shell_variable_names(deployment, key):
    assert put(deployment, key, "1").key == key


@pytest.mark.parametrize("key, message", [
    ("", "Give the variable a key"), ("1ABC", "not a valid variable name"), ("MY-SETTING", "not a valid variable name"),
    ("A B", "not a valid variable name"), ("ÄPFEL", "not a valid variable name"), ("a" * 256, "at most 255"),
    ("AIRDOCK_AGENT_TOKEN", "keys starting with AIRDOCK_ belong to Airdock"), ("airdock_x", "belong to Airdock"),
    ("AIRFLOW__CORE__EXECUTOR", "Airdock sets this Airflow setting itself"),
    ("AIRFLOW__CORE__FERNET_KEY_CMD", "reserved"), ("AIRFLOW__CORE__FERNET_KEY_SECRET", "reserved"),
    ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "reserved"), ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD", "reserved"),
    ("airflow__celery__broker_url", "reserved"), ("AIRFLOW_HOME", "reserved"),
])
def test_it_refuses_bad_and_reserved_keys_saying_what_to_do(deployment, key, message):
    with pytest.raises(Invalid, match=message):
        put(deployment, key, "x")
    assert not EnvironmentVariable.objects.exists()


def test_the_reserved_keys_are_in_one_constant_with_their_cmd_and_secret_forms():
    for key in ["AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__PLUGINS_FOLDER", "AIRFLOW__CELERY__RESULT_BACKEND",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
                "AIRFLOW__WEBSERVER__SECRET_KEY", "AIRFLOW__CORE__HOSTNAME_CALLABLE", "AIRFLOW__CORE__FERNET_KEY_CMD",
                "AIRFLOW__CORE__EXECUTOR_SECRET"]:
        assert key in RESERVED_KEYS and is_reserved_key(key)
    assert is_reserved_key("AIRDOCK_ANYTHING") and not is_reserved_key("AIRFLOW__CORE__PARALLELISM")


def test_it_refuses_a_value_over_64_kib(deployment):
    put(deployment, "BIG", "x" * 64 * 1024)
    with pytest.raises(Invalid, match="at most 64 KiB"):
        put(deployment, "BIGGER", "é" * 40000)  # 80000 bytes


def test_it_creates_then_updates_and_audits_keys_never_values(deployment, alice, rollouts):
    actor = Actor(user=alice, ip="10.0.0.1")
    put(deployment, "GREETING", "hello-plain", actor=actor)
    put(deployment, "GREETING", "hello-again", actor=actor)
    put(deployment, "API_KEY", "s3cr3t-value", is_secret=True, actor=actor)
    assert dict(EnvironmentVariable.objects.values_list("key", "value")) == {"API_KEY": "s3cr3t-value", "GREETING": "hello-again"}
    events = AuditEvent.objects.filter(action="deployment.variable.set").order_by("pk")
    assert [e.target for e in events] == ["etl: GREETING", "etl: GREETING", "etl: API_KEY"]
    assert events[0].actor_name == alice.username and events[0].detail == {"created": True, "is_secret": False}
    everything = str(list(AuditEvent.objects.values()))
    assert "s3cr3t-value" not in everything and "hello-plain" not in everything
    assert rollouts == [deployment.pk] * 3
    put(deployment, "GREETING", "hello-again")  # no change: no record, no rollout
    assert events.count() == 3 and len(rollouts) == 3


def test_a_change_does_not_roll_out_a_deployment_that_never_deployed(monkeypatch, deployment):
    calls = []
    monkeypatch.setattr(variables.runtime, "reconcile_soon", calls.append)
    put(deployment, "A", "1")
    assert calls == [] and AuditEvent.objects.filter(action="deployment.variable.set").exists()


def test_a_secret_stays_secret_and_needs_a_new_value(deployment):
    put(deployment, "TOKEN", "first", is_secret=True)
    with pytest.raises(Invalid, match="a secret stays secret"):
        put(deployment, "TOKEN", "plain-now", is_secret=False)
    with pytest.raises(Invalid, match="give its new value"):
        put(deployment, "TOKEN", None, is_secret=None)
    with pytest.raises(Invalid, match="needs a value"):
        put(deployment, "TOKEN", "", is_secret=True)
    put(deployment, "TOKEN", "second", is_secret=None)  # kind kept
    variable = EnvironmentVariable.objects.get(key="TOKEN")
    assert variable.is_secret and variable.value == "second"


def test_a_plain_variable_may_become_secret_keeping_its_value(deployment):
    put(deployment, "DSN", "postgres://x")
    put(deployment, "DSN", None, is_secret=True)
    variable = EnvironmentVariable.objects.get(key="DSN")
    assert variable.is_secret and variable.value == "postgres://x"


def test_create_only_and_update_only_say_so(deployment):
    put(deployment, "A", "1", must_exist=False)
    with pytest.raises(Conflict, match="already has an environment variable A"):
        put(deployment, "A", "2", must_exist=False)
    with pytest.raises(NotFound, match="has no environment variable B"):
        put(deployment, "B", "2", must_exist=True)


def test_it_deletes_with_an_audit_record_or_says_what_is_missing(deployment, rollouts):
    put(deployment, "A", "1")
    variables.variable_delete(deployment=deployment, key="A")
    assert not EnvironmentVariable.objects.exists()
    assert AuditEvent.objects.get(action="deployment.variable.delete").target == "etl: A"
    with pytest.raises(NotFound, match="etl has no environment variable A"):
        variables.variable_delete(deployment=deployment, key="A")
    assert rollouts == [deployment.pk, deployment.pk]


def test_values_are_encrypted_at_rest_plain_and_secret(deployment):
    put(deployment, "PLAIN", "visible-plain-value")
    put(deployment, "SECRET", "hidden-secret-value", is_secret=True)
    stored = raw_values(deployment)
    assert len(stored) == 2 and all(stored)
    assert not any("visible-plain-value" in v or "hidden-secret-value" in v for v in stored)
    assert {v.key: v.value for v in EnvironmentVariable.objects.all()} == {
        "PLAIN": "visible-plain-value", "SECRET": "hidden-secret-value"}


def test_the_selectors_show_plain_values_only_and_give_the_data_plane_both(deployment):
    put(deployment, "B_PLAIN", "1")
    put(deployment, "A_SECRET", "s3cr3t", is_secret=True)
    put(deployment, "EMPTY", "")
    shown = selectors.variables_for(deployment)
    assert [(v["key"], v["value"], v["is_secret"]) for v in shown] == [
        ("A_SECRET", None, True), ("B_PLAIN", "1", False), ("EMPTY", "", False)]
    assert all(v["updated_at"] for v in shown)
    assert selectors.runtime_environment(deployment) == ({"B_PLAIN": "1", "EMPTY": ""}, {"A_SECRET": "s3cr3t"})


ENV_FILE = '''
# a comment
export GREETING="hello\\nworld"   # trailing comment
SINGLE='no \\n escapes # here'
PLAIN = some value # comment
URL=https://x.example/?a=1&b=2#frag
EMPTY=

LAST=first
LAST=second
'''


def test_it_parses_a_dotenv_file():
    assert variables.parse_env(ENV_FILE) == [
        (3, "GREETING", "hello\nworld"), (4, "SINGLE", "no \\n escapes # here"), (5, "PLAIN", "some value"),
        (6, "URL", "https://x.example/?a=1&b=2#frag"), (7, "EMPTY", ""), (9, "LAST", "first"), (10, "LAST", "second"),
    ]


def test_it_imports_a_dotenv_file_counting_what_it_did(deployment, rollouts):
    put(deployment, "PLAIN", "old")
    put(deployment, "URL", "https://x.example/?a=1&b=2#frag")
    put(deployment, "PASSWORD", "old-secret", is_secret=True)
    counts = variables.variables_import(deployment=deployment, text=ENV_FILE + "PASSWORD=new-secret\n")
    assert counts == {"created": 4, "updated": 2, "unchanged": 1}
    values = {v.key: (v.value, v.is_secret) for v in EnvironmentVariable.objects.all()}
    assert values["GREETING"] == ("hello\nworld", False) and values["LAST"] == ("second", False)
    assert values["PASSWORD"] == ("new-secret", True)  # an existing secret stays secret
    event = AuditEvent.objects.get(action="deployment.variable.import")
    assert event.target.startswith("etl: ") and "PASSWORD" in event.target
    assert "new-secret" not in str(event.detail) and "hello" not in str(event.detail)
    assert rollouts.count(deployment.pk) == 4  # three sets, one import


def test_an_import_as_secrets_makes_every_variable_secret(deployment):
    put(deployment, "A", "1")
    variables.variables_import(deployment=deployment, text="A=2\nB=3\n", is_secret=True)
    assert set(EnvironmentVariable.objects.values_list("key", "is_secret")) == {("A", True), ("B", True)}


@pytest.mark.parametrize("text, message", [
    ("A=1\njust-some-words\n", "Line 2 is not KEY=VALUE"),
    ("A=1\n\n1BAD=x\n", "Line 3: The key '1BAD' is not a valid variable name"),
    ('A="unterminated\n', "Line 1: the \" quote is not closed"),
    ("A='x' trailing\n", "Line 1: only a comment"),
    ("OK=1\nAIRDOCK_TOKEN=x\n", "Line 2: The key AIRDOCK_TOKEN is reserved"),
    ("OK=1\nBIG=" + "x" * 70000 + "\n", "Line 2: BIG: The value is 70000 bytes"),
    ("# only a comment\n", "no KEY=VALUE lines"),
])
def test_a_bad_line_names_its_number_and_changes_nothing(deployment, text, message):
    put(deployment, "OK", "before")
    with pytest.raises(Invalid) as caught:
        variables.variables_import(deployment=deployment, text=text)
    assert message in caught.value.message
    assert list(EnvironmentVariable.objects.values_list("key", "value")) == [("OK", "before")]
    assert not AuditEvent.objects.filter(action="deployment.variable.import").exists()


def test_a_bad_line_does_not_echo_its_content(deployment):
    with pytest.raises(Invalid) as caught:
        variables.variables_import(deployment=deployment, text="hunter2-password\n")
    assert "hunter2" not in caught.value.message


def test_deleting_a_deployment_deletes_its_variables(deployment):
    put(deployment, "A", "1")
    deployment.delete()
    assert not EnvironmentVariable.objects.exists()
