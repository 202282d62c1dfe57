"""Rollback against the real services: an earlier deploy's image digest and bundle, again."""
import io

import pytest

from deployments.models import Deploy
from deployments.services import deploys, tokens
from portal.errors import Invalid
from tenancy.models import AuditEvent, WorkspaceMembership
from tests.projects import BROKEN_DAG, GOOD_DAG_3, make_project, pack

pytestmark = [pytest.mark.services]
Role = WorkspaceMembership.Role


def run(deployment, user, project, **options) -> Deploy:
    deploy = deploys.deploy_create(deployment=deployment, user=user, archive=io.BytesIO(pack(project)), **options)
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    return deploy


@pytest.mark.django_db
def test_it_rolls_back_to_an_earlier_image_digest_and_bundle_through_the_api(client, alice, org, deployment, tmp_path):
    project = make_project(tmp_path / "p")
    first = run(deployment, alice, project)
    (project / "dags" / "example_dag.py").write_text(GOOD_DAG_3 + "\n# second\n")
    (project / "include" / "helpers.py").write_text("def greeting(n):\n    return n\n")
    second = run(deployment, alice, project)
    assert first.state == second.state == Deploy.State.SUCCEEDED
    assert second.image_digest != first.image_digest and second.dag_bundle_version != first.dag_bundle_version
    raw = tokens.token_create(organization=org, role=Role.OPERATOR, name="ci")[1]
    response = client.post(f"/api/v1/deployments/{deployment.pk}/rollback", {"deploy_id": first.pk},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 202, response.content
    rollback = Deploy.objects.get(pk=response.json()["id"])
    deploys.deploy_execute(deploy_id=rollback.pk)
    rollback.refresh_from_db()
    assert rollback.state == Deploy.State.SUCCEEDED, rollback.error
    assert rollback.is_rollback and rollback.source_deploy == first
    deployment.refresh_from_db()
    assert deployment.desired_image_digest == first.image_digest
    assert deployment.desired_dag_bundle_version == first.dag_bundle_version
    assert deployment.current_deploy == rollback
    assert AuditEvent.objects.filter(action="deploy.rollback", detail__to_deploy=first.pk).exists()
    failed = run(deployment, alice, make_project(tmp_path / "broken", dags={"b.py": BROKEN_DAG}))
    with pytest.raises(Invalid, match="did not succeed"):
        deploys.deployment_rollback(deployment=deployment, deploy_id=failed.pk, user=alice)


