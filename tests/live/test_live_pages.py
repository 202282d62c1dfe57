from django.urls import reverse

from deployments.models import Deploy, Deployment
from tests import factories


def test_it_serves_the_live_partials_to_members_and_404s_to_outsiders(client, bob, charlie, deployment):
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    deploy.log_lines.create(seq=1, text="one")
    deploy.log_lines.create(seq=2, text="two")
    urls = [
        reverse("deploy_panel", args=[deploy.pk]), reverse("deploy_log_json", args=[deploy.pk]),
        reverse("deployment_panel", args=[deployment.pk]), reverse("dashboard_row", args=[deployment.pk]),
    ]
    client.force_login(charlie)
    for url in urls:
        assert client.get(url).status_code == 404, url
    client.force_login(bob)
    panel = client.get(urls[0]).content.decode()
    assert panel.startswith('<div id="deploy-panel"') and 'data-state="BUILDING"' in panel
    assert client.get(urls[1] + "?after=1").json()["lines"] == [{"seq": 2, "step": "", "text": "two"}]
    assert 'id="deployment-panel"' in client.get(urls[2]).content.decode()
    assert client.get(urls[3]).content.decode().startswith(f'<tr id="deployment-{deployment.pk}"')


def test_it_marks_pages_live_and_resumes_from_the_last_line(client, bob, deployment):
    deploy = factories.DeployFactory(deployment=deployment)
    deploy.log_lines.create(seq=7, text="seven")
    client.force_login(bob)
    page = client.get(reverse("deploy_detail", args=[deploy.pk])).content.decode()
    assert f'data-live="/ws/deploys/{deploy.pk}/"' in page and 'data-last-seq="7"' in page
    assert "js/live.js" in page
    assert 'data-live="/ws/dashboard/"' in client.get(reverse("dashboard")).content.decode()


def test_it_filters_the_deploy_history_and_charts_durations(client, bob, deployment):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    ok = factories.DeployFactory(deployment=deployment, state="SUCCEEDED", started_at=now - timedelta(seconds=40), finished_at=now)
    bad = factories.DeployFactory(deployment=deployment, state="FAILED", kind="DAGS", started_at=now - timedelta(seconds=10), finished_at=now)
    client.force_login(bob)
    page = client.get(reverse("deployment_detail", args=[deployment.pk]), {"state": "FAILED"})
    history = page.context["deploys"]
    assert list(history) == [bad]
    chart = page.context["duration_chart"]
    assert [(d.pk, pct) for d, _, pct in chart] == [(ok.pk, 100), (bad.pk, 25)]
    assert list(client.get(reverse("deployment_detail", args=[deployment.pk]), {"kind": "IMAGE_AND_DAGS"}).context["deploys"]) == [ok]


def test_it_renders_a_page_of_a_dashboard_of_1000_deployments_in_a_bounded_number_of_queries(client, alice, workspace, django_assert_max_num_queries):
    workspaces = [workspace] + [factories.WorkspaceFactory(organization=workspace.organization) for _ in range(9)]
    Deployment.objects.bulk_create(
        Deployment(workspace=workspaces[i % 10], name=f"d{i}", desired_image_tag=f"deploy-{i}") for i in range(1000)
    )
    deploys = Deploy.objects.bulk_create(
        Deploy(deployment=d, state="SUCCEEDED") for d in Deployment.objects.all()[:300]
    )
    for deploy in deploys:
        Deployment.objects.filter(pk=deploy.deployment_id).update(current_deploy=deploy)
    client.force_login(alice)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    assert page.content.decode().count("<tr id=\"deployment-") == 50 and "Deployments 1–50 of 1000" in page.content.decode()
