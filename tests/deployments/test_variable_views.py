"""The deployment page's environment variables card: owners and operators change variables there;
members see the table; nobody ever gets a secret's value in the HTML."""
import pytest
from django.urls import reverse

from deployments.models import EnvironmentVariable
from deployments.services import variables
from tenancy.models import AuditEvent, WorkspaceMembership
from tests.conftest import member

Role = WorkspaceMembership.Role
SECRET = "s3cr3t-never-in-html"


@pytest.fixture
def with_variables(deployment):
    variables.variable_set(deployment=deployment, key="GREETING", value="hello-plain", is_secret=False)
    variables.variable_set(deployment=deployment, key="API_KEY", value=SECRET, is_secret=True)
    return deployment


def page(client, deployment):
    response = client.get(reverse("deployment_detail", args=[deployment.pk]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("role, manages", [(Role.OWNER, True), (Role.OPERATOR, True), (Role.AUTHOR, False), (Role.MEMBER, False)])
def test_the_card_shows_plain_values_masks_secrets_and_has_forms_for_managers_only(client, workspace, with_variables, role, manages):
    client.force_login(member(workspace, role))
    html = page(client, with_variables)
    assert 'id="variables"' in html and "GREETING" in html and "hello-plain" in html and "API_KEY" in html
    assert "•••••• (secret)" in html and SECRET not in html
    for form in ('id="variable-form"', 'id="variables-import-form"', reverse("deployment_variable_delete", args=[with_variables.pk])):
        assert (form in html) is manages, form


def test_an_owner_adds_updates_and_deletes_a_variable_from_the_page(client, alice, deployment):
    client.force_login(alice)
    url = reverse("deployment_variable_set", args=[deployment.pk])
    response = client.post(url, {"key": "TOKEN", "value": SECRET, "is_secret": "on"})
    assert response.status_code == 302 and response.url.endswith("#variables")
    client.post(url, {"key": "TOKEN", "value": SECRET + "-2"})  # the box left unticked: it stays secret
    variable = EnvironmentVariable.objects.get(key="TOKEN")
    assert variable.is_secret and variable.value == SECRET + "-2"
    html = client.get(response.url.split("#")[0]).content.decode()
    assert "Environment variable TOKEN saved" in html and SECRET not in html
    response = client.post(reverse("deployment_variable_delete", args=[deployment.pk]), {"key": "TOKEN"})
    assert response.status_code == 302 and not EnvironmentVariable.objects.exists()
    assert AuditEvent.objects.filter(action="deployment.variable.delete", actor_name=alice.username).exists()


def test_a_refused_variable_shows_the_message_on_the_form_without_the_secret_typed(client, alice, deployment):
    client.force_login(alice)
    response = client.post(reverse("deployment_variable_set", args=[deployment.pk]),
                           {"key": "AIRDOCK_X", "value": SECRET, "is_secret": "on"})
    html = response.content.decode()
    assert response.status_code == 400 and "belong to Airdock" in html and SECRET not in html
    assert not EnvironmentVariable.objects.exists()


def test_an_import_from_the_page_is_all_or_nothing_with_the_line_named(client, alice, deployment):
    client.force_login(alice)
    url = reverse("deployment_variables_import", args=[deployment.pk])
    bad = client.post(url, {"text": "A=1\nB\n"})
    assert bad.status_code == 400 and "Line 2 is not KEY=VALUE" in bad.content.decode()
    assert not EnvironmentVariable.objects.exists()
    good = client.post(url, {"text": 'export A=1\nB="x y"\n'}, follow=True)
    assert "Imported: 2 created, 0 updated, 0 unchanged." in good.content.decode()
    assert dict(EnvironmentVariable.objects.values_list("key", "value")) == {"A": "1", "B": "x y"}


def test_a_deleted_variable_that_is_missing_becomes_a_message(client, alice, deployment):
    client.force_login(alice)
    response = client.post(reverse("deployment_variable_delete", args=[deployment.pk]), {"key": "NOPE"}, follow=True)
    assert "has no environment variable NOPE" in response.content.decode()


def test_members_and_outsiders_cannot_change_variables(client, bob, charlie, with_variables):
    urls = [reverse(name, args=[with_variables.pk]) for name in
            ("deployment_variable_set", "deployment_variables_import", "deployment_variable_delete")]
    data = {"key": "GREETING", "value": "changed", "text": "GREETING=changed"}
    for user, status in ((bob, 403), (charlie, 404)):
        client.force_login(user)
        assert [client.post(u, data).status_code for u in urls] == [status] * 3
    assert EnvironmentVariable.objects.get(key="GREETING").value == "hello-plain"
    assert EnvironmentVariable.objects.count() == 2


def test_the_admin_lists_variables_without_values_and_deletes_through_the_service(admin_client, with_variables):
    changelist = reverse("admin:deployments_environmentvariable_changelist")
    html = admin_client.get(changelist, {"q": "A"}).content.decode()
    assert "API_KEY" in html and SECRET not in html and "hello-plain" not in html
    secret = EnvironmentVariable.objects.get(key="API_KEY")
    change = admin_client.get(reverse("admin:deployments_environmentvariable_change", args=[secret.pk])).content.decode()
    assert SECRET not in change and 'name="value"' not in change
    admin_client.post(changelist, {"action": "delete_variables", "_selected_action": [secret.pk]})
    assert list(EnvironmentVariable.objects.values_list("key", flat=True)) == ["GREETING"]
    assert AuditEvent.objects.filter(action="deployment.variable.delete", target="etl: API_KEY").exists()
