from django.contrib import admin
from django.urls import reverse

from deployments.models import Deploy, Deployment, DeployStep
from tests import factories


def test_it_loads_every_admin_changelist_and_change_page(admin_client, deployment, bob):
    deploy = factories.DeployFactory(deployment=deployment)
    DeployStep.objects.create(deploy=deploy, name=Deploy.State.BUILDING, position=1, state="SUCCEEDED")
    deploy.log_lines.create(seq=1, text="Step 1/1 : FROM airdock/runtime:3.1")
    deployment.notification_channels.create(name="alerts", url="https://hooks.example.com/T0/B0/secret-token")
    deployment.component_log_lines.create(component="scheduler", task_id="t", text="hello", logged_at=deploy.created_at)
    deployment.rollouts.create(kind="settings", summary="resources")
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("deployments", "auth"):
            continue
        info = model._meta.app_label, model._meta.model_name
        changelist = admin_client.get(reverse("admin:%s_%s_changelist" % info), {"q": "a"})
        assert changelist.status_code == 200, info
        obj = model.objects.first()
        if obj is not None:
            assert admin_client.get(reverse("admin:%s_%s_change" % info, args=[obj.pk])).status_code == 200, info
    page = admin_client.get(reverse("admin:deployments_deploy_change", args=[deploy.pk])).content.decode()
    assert "Step 1/1 : FROM airdock/runtime:3.1" in page
    channel = deployment.notification_channels.get()
    page = admin_client.get(reverse("admin:deployments_notificationchannel_change", args=[channel.pk])).content.decode()
    assert "secret-token" not in page and channel.signing_secret not in page


def test_it_toggles_dag_only_deploys_through_an_admin_action(admin_client, deployment):
    url = reverse("admin:deployments_deployment_changelist")
    response = admin_client.post(url, {"action": "disable_dag_deploys", "_selected_action": [deployment.pk]})
    assert response.status_code == 302
    assert Deployment.objects.get(pk=deployment.pk).dag_deploy_enabled is False


def test_it_keeps_deploy_state_read_only_in_the_admin(admin_client, deployment):
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.FAILED)
    url = reverse("admin:deployments_deploy_change", args=[deploy.pk])
    management = {"steps-TOTAL_FORMS": "0", "steps-INITIAL_FORMS": "0", "steps-MAX_NUM_FORMS": "0"}
    response = admin_client.post(url, {"description": "note", "state": "SUCCEEDED", **management})
    assert response.status_code == 302
    deploy.refresh_from_db()
    assert deploy.state == Deploy.State.FAILED and deploy.description == "note"


def test_an_api_tokens_scope_and_role_cannot_be_edited_in_the_admin(admin_client, org, workspace):
    from deployments.models import ApiToken
    from deployments.services import tokens

    token, _ = tokens.token_create(organization=org, workspace=workspace, name="ci", role="author")
    url = reverse("admin:deployments_apitoken_change", args=[token.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="role"' not in page and 'name="workspace"' not in page
    admin_client.post(url, {"role": "owner", "workspace": "", "name": "root"})
    token.refresh_from_db()
    assert (token.role, token.workspace_id, token.name) == ("author", workspace.pk, "ci")
    assert ApiToken.objects.count() == 1


def test_an_admin_edit_of_worker_queues_goes_through_the_service_and_is_a_rollout(admin_client, deployment, monkeypatch):
    from deployments.models import Rollout
    from deployments.services import runtime

    monkeypatch.setattr(runtime, "reconcile_soon", lambda pk: None)
    Deployment.objects.filter(pk=deployment.pk).update(desired_image_digest="sha256:" + "a" * 64)
    url = reverse("admin:deployments_deployment_change", args=[deployment.pk])
    form = {"workspace": deployment.workspace_id, "name": deployment.name, "runtime_image": deployment.runtime_image,
            "executor": "celery", "dag_deploy_enabled": "on", "git_branch": "main", "worker_grace_period": "86400",
            "worker_queues": '[{"name": "default", "min_workers": 1, "max_workers": 3, "concurrency": 5}]',
            "resources": "{}", "hibernation_schedules": "[]", "rollouts-TOTAL_FORMS": "0", "rollouts-INITIAL_FORMS": "0"}
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Deployment.objects.get(pk=deployment.pk).worker_queues[0]["max_workers"] == 3
    assert Rollout.objects.get(deployment=deployment).summary == "worker_queues"
    bad = admin_client.post(url, {**form, "worker_queues": '[{"name": "heavy", "workers": 1, "concurrency": 1}]'})
    assert bad.status_code == 200 and "Keep the" in bad.content.decode()


def test_it_hibernates_and_wakes_deployments_through_admin_actions(admin_client, deployment):
    url = reverse("admin:deployments_deployment_changelist")
    admin_client.post(url, {"action": "hibernate", "_selected_action": [deployment.pk]})
    assert Deployment.objects.get(pk=deployment.pk).hibernating
    admin_client.post(url, {"action": "wake_up", "_selected_action": [deployment.pk]})
    assert not Deployment.objects.get(pk=deployment.pk).hibernating
