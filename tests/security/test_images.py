"""Images belong to their deployment: no tenant sees another's names in a push log, local build
tags do not stay behind for others to name, and a renamed image of another deployment is refused
(tests/deploys/test_pipeline.py::test_a_prebuilt_image_is_judged_by_what_it_resolves_to)."""
import io

import docker
import pytest

from deployments.models import Deploy
from deployments.selectors import deploy_log_text
from deployments.services import deploys
from tenancy.models import Workspace
from tests import factories
from tests.projects import make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db]


def run(deployment, user, root) -> Deploy:
    deploy = deploys.deploy_create(deployment=deployment, user=user, archive=io.BytesIO(pack(root)))
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    return deploy


def test_a_push_log_names_no_other_tenant_and_no_build_tag_stays(alice, charlie, workspace, tmp_path):
    root = make_project(tmp_path / "p")
    first = run(factories.DeploymentFactory(workspace=workspace), alice, root)
    elsewhere = factories.DeploymentFactory(workspace=Workspace.objects.get(name="Elsewhere"))  # charlie's
    second = run(elsewhere, charlie, root)  # the same layers, in another organization's repository
    log = deploy_log_text(second)
    assert "Mounted from" not in log and first.deployment.workspace.organization.slug + "/" not in log
    names = {tag for image in docker.from_env().images.list() for tag in image.tags}
    assert f"airdock-build/deployment-{first.deployment_id}:deploy-{first.pk}" not in names
    assert f"airdock-build/deployment-{elsewhere.pk}:deploy-{second.pk}" not in names


@pytest.mark.parametrize("dockerfile", [
    "FROM {victim}\n",
    "FROM astrocrpublic.azurecr.io/runtime:3.1-21\nCOPY --from={victim} /usr/local/airflow /stolen\n",
    "FROM airdock/runtime-base:bookworm\n",  # any local image, not only other tenants'
])
def test_a_dockerfile_may_not_start_from_or_copy_out_of_other_images(alice, workspace, tmp_path, dockerfile):
    victim = run(factories.DeploymentFactory(workspace=workspace), alice, make_project(tmp_path / "victim"))
    root = make_project(tmp_path / "attacker")
    (root / "Dockerfile").write_text(dockerfile.format(victim=f"{victim.image_repository}:{victim.image_tag}"))
    attacker = factories.DeploymentFactory(workspace=workspace)
    deploy = deploys.deploy_create(deployment=attacker, user=alice, archive=io.BytesIO(pack(root)))
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    assert deploy.state == Deploy.State.FAILED
    assert "may start from Astro Runtime images, its own stages and the images the operator allows" in deploy.error
