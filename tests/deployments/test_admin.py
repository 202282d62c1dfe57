from django.contrib import admin
from django.urls import reverse

from deployments.models import Deploy, Deployment, DeployStep
from tests import factories


def test_it_loads_every_admin_changelist_and_change_page(admin_client, deployment, bob):
    deploy = factories.DeployFactory(deployment=deployment)
    DeployStep.objects.create(deploy=deploy, name=Deploy.State.BUILDING, position=1, state="SUCCEEDED")
    deploy.log_lines.create(seq=1, text="Step 1/1 : FROM airdock/runtime:3.1")
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
