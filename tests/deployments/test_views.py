import pytest
from django.urls import reverse

from deployments.models import Deployment
from tenancy.models import WorkspaceMembership
from tests.conftest import member

Role = WorkspaceMembership.Role


def object_urls(org, workspace, deployment):
    return [
        reverse("organization_detail", args=[org.slug]),
        reverse("workspace_create", args=[org.slug]),
        reverse("workspace_detail", args=[workspace.pk]),
        reverse("workspace_edit", args=[workspace.pk]),
        reverse("deployment_create", args=[workspace.pk]),
        reverse("deployment_detail", args=[deployment.pk]),
        reverse("deployment_edit", args=[deployment.pk]),
    ]


def test_it_sends_anonymous_users_to_sign_in(client, org, workspace, deployment):
    for url in [reverse("dashboard"), *object_urls(org, workspace, deployment)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url


def test_it_answers_404_to_an_outsider_on_every_object_view(client, charlie, org, workspace, deployment):
    client.force_login(charlie)
    for url in object_urls(org, workspace, deployment):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"name": "x"}).status_code in (404, 405), url


def test_it_answers_404_for_missing_objects(client, alice):
    client.force_login(alice)
    for url in ["/orgs/nope/", "/workspaces/999999/", "/deployments/999999/", "/deployments/999999/edit/"]:
        assert client.get(url).status_code == 404, url


def test_it_shows_the_dashboard_with_only_visible_deployments(client, bob, charlie, deployment):
    from tests import factories
    foreign = factories.DeploymentFactory(name="foreign-secret")
    client.force_login(bob)
    page = client.get(reverse("dashboard")).content.decode()
    assert deployment.name in page
    assert foreign.name not in page


def test_it_signs_in_and_out(client, alice):
    response = client.post(reverse("login"), {"username": "alice@example.com", "password": "password"})
    assert response.status_code == 302 and response.url == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("dashboard")).status_code == 302


@pytest.mark.parametrize("role, allowed", [(Role.OWNER, True), (Role.OPERATOR, True), (Role.AUTHOR, False), (Role.MEMBER, False)])
def test_it_lets_only_owners_and_operators_create_deployments(client, workspace, role, allowed):
    client.force_login(member(workspace, role))
    response = client.post(reverse("deployment_create", args=[workspace.pk]), {
        "name": "new-dep", "runtime_image": "astrocrpublic.azurecr.io/runtime:3.1-1", "executor": "celery",
        "worker_queues": '[{"name": "default", "workers": 2, "concurrency": 8}]', "dag_deploy_enabled": "on",
    })
    created = Deployment.objects.filter(workspace=workspace, name="new-dep").first()
    if allowed:
        assert response.status_code == 302 and created is not None
        assert created.worker_queues[0]["max_workers"] == 2 and created.dag_deploy_enabled
    else:
        assert response.status_code == 403 and created is None


def test_it_shows_a_clear_error_for_bad_worker_queues(client, alice, workspace):
    client.force_login(alice)
    response = client.post(reverse("deployment_create", args=[workspace.pk]), {
        "name": "d", "runtime_image": "x", "executor": "celery", "worker_queues": '[{"name": "BAD!"}]',
    })
    assert response.status_code == 200
    assert "exactly name, min_workers, max_workers and concurrency" in response.content.decode()


def test_it_lets_an_operator_edit_a_deployment(client, workspace, deployment):
    client.force_login(member(workspace, Role.OPERATOR))
    response = client.post(reverse("deployment_edit", args=[deployment.pk]), {
        "name": "etl-renamed", "runtime_image": "quay.io/astronomer/astro-runtime:12.7.0", "executor": "celery",
        "worker_queues": '[{"name": "default", "workers": 1, "concurrency": 5}]',
    })
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.name == "etl-renamed" and deployment.dag_deploy_enabled is False


def test_it_forbids_an_author_to_edit_a_deployment(client, bob, deployment):
    client.force_login(bob)
    assert client.get(reverse("deployment_edit", args=[deployment.pk])).status_code == 403
    assert client.get(reverse("deployment_detail", args=[deployment.pk])).status_code == 200




def test_the_webhook_secret_is_write_only_and_git_urls_are_checked_when_saved(client, alice, deployment, settings):
    deployment.webhook_secret, deployment.git_url = "s3cr3t-never-shown", "https://git.example.com/acme/etl.git"
    deployment.save()
    client.force_login(alice)
    url = reverse("deployment_edit", args=[deployment.pk])
    assert "s3cr3t-never-shown" not in client.get(url).content.decode()
    form = {"name": deployment.name, "runtime_image": deployment.runtime_image, "executor": "celery",
            "worker_queues": '[{"name": "default", "workers": 1, "concurrency": 5}]', "dag_deploy_enabled": "on",
            "git_url": deployment.git_url, "git_branch": "main", "webhook_secret": ""}
    assert client.post(url, form).status_code == 302
    deployment.refresh_from_db()
    assert deployment.webhook_secret == "s3cr3t-never-shown"  # blank keeps it
    refused = client.post(url, {**form, "git_url": "ext::sh -c touch% /tmp/pwned"})
    assert refused.status_code == 200 and "are not allowed here" in refused.content.decode()
    deployment.refresh_from_db()
    assert deployment.git_url == "https://git.example.com/acme/etl.git"


def test_the_dashboard_shows_fifty_deployments_a_page_found_by_name_and_status_in_the_same_queries(client, alice, workspace):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from deployments.models import Deployment
    from tests import factories

    def counted(path: str) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as captured:
            page = client.get(path)
        assert page.status_code == 200
        return len(captured.captured_queries), page.content.decode()

    client.force_login(alice)
    for i in range(5):
        factories.DeploymentFactory(workspace=workspace, name=f"etl-{i:02d}", status=Deployment.Status.HEALTHY)
    few, _ = counted("/")
    for i in range(5, 60):
        factories.DeploymentFactory(workspace=workspace, name=f"etl-{i:02d}", status=Deployment.Status.HEALTHY)
    factories.DeploymentFactory(workspace=workspace, name="ml-train", status=Deployment.Status.UNHEALTHY)
    many, first = counted("/")
    assert many == few  # constant in the number of deployments shown
    assert "etl-49" in first and "etl-50" not in first and "Deployments 1–50 of 61" in first and "page=2" in first
    _, second = counted("/?page=2")
    assert "etl-50" in second and "ml-train" in second and "etl-49" not in second
    _, found = counted("/?q=ml-")
    assert "ml-train" in found and "etl-01" not in found
    _, unhealthy = counted("/?status=UNHEALTHY")
    assert "ml-train" in unhealthy and "etl-01" not in unhealthy
