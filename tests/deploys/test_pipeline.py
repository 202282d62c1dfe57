"""Deploys end to end against the real Docker engine, registry, Redis and storage."""
import glob
import io
import json
import urllib.request
import uuid

import django_rq
import docker
import pytest
from rq import SimpleWorker

from deployments.models import Deploy, Deployment, DeployStep
from deployments.selectors import deploy_log_text
from deployments.services import bundles, deploys
from portal.errors import Invalid
from tests import factories
from tests.projects import (
    BROKEN_DAG,
    FAILING_TEST,
    GOOD_DAG_3,
    RUNTIME_IMAGES,
    make_project,
    pack,
)
from tests.services import registry_auth_header

pytestmark = [pytest.mark.services, pytest.mark.django_db]
RUNTIME_LOCAL = {"3.1": "airdock/runtime:3.1-21"}  # a local image no deployment owns
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
])


def run(deployment, user, project=None, **options) -> Deploy:
    archive = io.BytesIO(pack(project)) if project is not None else None
    deploy = deploys.deploy_create(deployment=deployment, user=user, archive=archive, **options)
    deploys.deploy_execute(deploy_id=deploy.pk)
    deploy.refresh_from_db()
    return deploy


def registry_manifest(repository: str, reference: str) -> tuple[int, str]:
    registry, _, path = repository.partition("/")
    request = urllib.request.Request(f"http://{registry}/v2/{path}/manifests/{reference}", headers={
        "Accept": MANIFEST_TYPES, **registry_auth_header(),
    })
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers["Docker-Content-Digest"]


def steps(deploy) -> dict[str, str]:
    return {s.name: s.state for s in deploy.steps.all()}


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project")


def test_it_runs_a_full_deploy_to_the_registry_and_storage(alice, deployment, project):
    deploy = run(deployment, alice, project, description="first")
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert set(steps(deploy).values()) == {DeployStep.State.SUCCEEDED}
    assert deploy.image_tag.startswith("deploy-") and deploy.image_digest.startswith("sha256:")
    assert registry_manifest(deploy.image_repository, deploy.image_tag) == (200, deploy.image_digest)
    assert registry_manifest(deploy.image_repository, deploy.image_digest)[0] == 200
    data, manifest = bundles.bundle_fetch(deployment=deployment, version=deploy.dag_bundle_version)
    assert manifest["dag_ids"] == ["example_dag"] and [f["path"] for f in manifest["files"]] == ["dags/example_dag.py"]
    assert deploy.parse_results["files"][0]["dag_ids"] == ["example_dag"]
    assert deploy.airflow_version.startswith("3.")
    assert deploy.runtime_requested == RUNTIME_IMAGES["3.1"] and deploy.runtime_version == "3.1-21"
    deployment.refresh_from_db()
    assert deployment.desired_image_digest == deploy.image_digest
    assert deployment.desired_image_tag == deploy.image_tag
    assert deployment.desired_dag_bundle_version == deploy.dag_bundle_version
    assert deployment.current_deploy == deploy and deployment.status == Deployment.Status.DEPLOYING
    log = deploy_log_text(deploy)
    assert "build triggers" in log and "Pushed " in log
    assert f"NOTE: Airflow {deploy.airflow_version} may run a task twice" in log  # Airflow 3.1's lost Celery id
    assert not glob.glob(f"/tmp/airdock-deploy-{deploy.pk}-*"), "the deploy's temporary files are removed"


def test_it_fails_on_a_dag_import_error_and_activates_nothing(alice, deployment, project, tmp_path):
    good = run(deployment, alice, project)
    (project / "dags" / "broken.py").write_text(BROKEN_DAG)
    deploy = run(deployment, alice, project)
    assert deploy.state == Deploy.State.FAILED
    assert "dags/broken.py line 4" in deploy.error and "this_module_does_not_exist" in deploy.error
    failed = [f for f in deploy.parse_results["files"] if f["error"]]
    assert failed[0]["file"] == "dags/broken.py" and failed[0]["line"] == 4
    assert steps(deploy)[Deploy.State.PARSING] == DeployStep.State.FAILED
    assert steps(deploy)[Deploy.State.PUSHING] == DeployStep.State.SKIPPED
    assert not deploy.image_digest and not deploy.dag_bundle_version
    deployment.refresh_from_db()
    assert deployment.desired_image_digest == good.image_digest
    assert deployment.desired_dag_bundle_version == good.dag_bundle_version
    assert deployment.current_deploy == good
    assert not glob.glob(f"/tmp/airdock-deploy-{deploy.pk}-*")


def test_it_deploys_a_broken_dag_when_forced_and_records_the_warning(alice, deployment, project):
    (project / "dags" / "broken.py").write_text(BROKEN_DAG)
    deploy = run(deployment, alice, project, force=True)
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert steps(deploy)[Deploy.State.PARSING] == DeployStep.State.WARNING
    assert any("dags/broken.py" in w and "forced" in w for w in deploy.warnings)


def test_it_fails_on_a_failing_project_test_only_when_pytest_is_asked(alice, deployment, project):
    (project / "tests" / "test_fail.py").write_text(FAILING_TEST)
    quiet = run(deployment, alice, project)
    assert quiet.state == Deploy.State.SUCCEEDED and Deploy.State.TESTING not in steps(quiet)
    deploy = run(deployment, alice, project, run_pytest=True)
    assert deploy.state == Deploy.State.FAILED
    assert "tests failed" in deploy.error and "test_it_fails_on_purpose" in deploy.error
    assert deploy.test_results["failed"] == 1 and deploy.test_results["passed"] == 1
    forced = run(deployment, alice, project, run_pytest=True, force=True)
    assert forced.state == Deploy.State.SUCCEEDED
    assert steps(forced)[Deploy.State.TESTING] == DeployStep.State.WARNING and forced.warnings


def test_it_runs_only_the_dags_part_of_a_dag_only_deploy(alice, deployment, project):
    (project / "include" / "nonce.txt").write_text(str(uuid.uuid4()))  # an image of this test's own
    full = run(deployment, alice, project)
    engine = docker.from_env()
    for tag in engine.images.get(f"{full.image_repository}:{full.image_tag}").tags:
        engine.images.remove(tag)  # gone from this engine: the DAG-only deploy pulls it, by digest
    (project / "dags" / "example_dag.py").write_text(GOOD_DAG_3.replace("example_dag", "renamed_dag"))
    deploy = run(deployment, alice, project, kind="DAGS")
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert f"Pulling {full.image_repository}@{full.image_digest}" in deploy_log_text(deploy).splitlines()
    assert list(steps(deploy)) == [Deploy.State.UNPACKING, Deploy.State.PARSING, Deploy.State.UPLOADING_DAGS, Deploy.State.ACTIVATING]
    assert not deploy.image_digest and deploy.dag_bundle_version != full.dag_bundle_version
    assert deploy.parse_results["dag_ids"] == ["renamed_dag"]
    deployment.refresh_from_db()
    assert deployment.desired_image_digest == full.image_digest
    assert deployment.desired_dag_bundle_version == deploy.dag_bundle_version


def test_it_runs_only_the_image_part_of_an_image_only_deploy(alice, deployment, project):
    full = run(deployment, alice, project)
    (project / "include" / "helpers.py").write_text("def greeting(name):\n    return f'hi {name}'\n")
    deploy = run(deployment, alice, project, kind="IMAGE")
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert Deploy.State.UPLOADING_DAGS not in steps(deploy) and not deploy.dag_bundle_version
    assert deploy.image_digest != full.image_digest
    assert deploy.parse_results["dag_ids"] == ["example_dag"]  # the current bundle, in the new image
    deployment.refresh_from_db()
    assert deployment.desired_image_digest == deploy.image_digest
    assert deployment.desired_dag_bundle_version == full.dag_bundle_version


def test_it_deploys_a_prebuilt_image_without_building(alice, workspace, deployment, project, settings):
    """An image the operator allows (AIRDOCK_PREBUILT_IMAGES_ALLOWED) that no deployment owns."""
    run(deployment, alice, project)
    settings.AIRDOCK_PREBUILT_IMAGES_ALLOWED = ["acme/custom-airflow:*"]
    other = factories.DeploymentFactory(workspace=workspace, name="other")
    docker.from_env().api.tag(RUNTIME_LOCAL["3.1"], "acme/custom-airflow", tag="1.0")
    deploy = run(other, alice, None, kind="IMAGE", image_name="acme/custom-airflow:1.0")
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert steps(deploy)[Deploy.State.BUILDING] == DeployStep.State.SKIPPED
    assert steps(deploy)[Deploy.State.PUSHING] == DeployStep.State.SUCCEEDED
    assert deploy.image_repository.endswith(f"deployment-{other.pk}")
    assert registry_manifest(deploy.image_repository, deploy.image_tag)[1] == deploy.image_digest


def test_it_refuses_another_tenants_build_named_by_its_image_id(alice, charlie, deployment, project):
    """The engine resolves ids and id prefixes to any image on it; only names are accepted."""
    built = run(deployment, alice, project)
    stranger = factories.DeploymentFactory(name="elsewhere")  # another organization
    image_id = docker.from_env().images.get(f"{built.image_repository}:{built.image_tag}").id
    for name in [image_id, image_id.removeprefix("sha256:")[:12], image_id.removeprefix("sha256:")[:4],
                 f"AIRDOCK-BUILD/deployment-{deployment.pk}:deploy-{built.pk}", built.image_repository + ":" + built.image_tag]:
        with pytest.raises(Invalid, match="image ids are not accepted|belongs to another deployment"):
            deploys.deploy_create(deployment=stranger, user=charlie, kind="IMAGE", image_name=name)
    assert not stranger.deploys.exists()


def test_a_prebuilt_image_is_judged_by_what_it_resolves_to(alice, workspace, deployment, project, settings):
    (project / "include" / "nonce.txt").write_text(str(uuid.uuid4()))  # an image no other test built
    built = run(deployment, alice, project)
    mine = run(deployment, alice, None, kind="IMAGE", image_name=f"{built.image_repository}:{built.image_tag}")
    assert mine.state == Deploy.State.SUCCEEDED, mine.error  # its own repository: always allowed
    settings.AIRDOCK_PREBUILT_IMAGES_ALLOWED = ["docker.io/acme/*", "acme/*"]
    other = factories.DeploymentFactory(workspace=workspace, name="other")
    docker.from_env().api.tag(f"{built.image_repository}:{built.image_tag}", "acme/renamed", tag="1.0")
    for name in ["acme/renamed:1.0", "docker.io/acme/renamed:1.0"]:  # allowed names, another deployment's image
        with pytest.raises(Invalid, match="belongs to another deployment"):
            deploys.deploy_create(deployment=other, user=alice, kind="IMAGE", image_name=name)
    with pytest.raises(Invalid, match="neither in this deployment's repository"):
        deploys.deploy_create(deployment=other, user=alice, kind="IMAGE", image_name="airdock/debian:bookworm")
    assert not other.deploys.exists()


def test_it_refuses_a_prebuilt_image_the_engine_does_not_have(alice, deployment):
    with pytest.raises(Invalid, match="not in the Docker engine"):
        deploys.deploy_create(deployment=deployment, user=alice, kind="IMAGE", image_name="airdock/nope:missing")


def test_it_bakes_dags_into_the_image_when_dag_only_deploys_are_off(alice, deployment, project):
    deployment.dag_deploy_enabled = False
    deployment.save()
    deploy = run(deployment, alice, project)
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    output = docker.from_env().containers.run(
        f"{deploy.image_repository}:{deploy.image_tag}", ["ls", "dags"], remove=True, network_mode="none"
    )
    assert b"example_dag.py" in output
    with pytest.raises(Invalid, match="DAG-only deploys are turned off"):
        deploys.deploy_create(deployment=deployment, user=alice, kind="DAGS", archive=io.BytesIO(pack(project)))


def test_it_fails_a_build_error_with_the_engines_message(alice, deployment, project):
    (project / "Dockerfile").write_text(f"FROM {RUNTIME_IMAGES['3.1']}\nRUN exit 3\n")
    deploy = run(deployment, alice, project)
    assert deploy.state == Deploy.State.FAILED
    assert "The image build failed" in deploy.error and "returned a non-zero code: 3" in deploy.error
    deployment.refresh_from_db()
    assert deployment.desired_image_digest == ""


def test_it_names_the_image_when_an_unknown_base_image_cannot_be_pulled(alice, deployment, project, settings):
    settings.AIRDOCK_BASE_IMAGES_ALLOWED = ["registry.invalid/*"]
    (project / "Dockerfile").write_text("FROM registry.invalid/acme/custom:1.0\n")
    deploy = run(deployment, alice, project)
    assert deploy.state == Deploy.State.FAILED
    assert "registry.invalid/acme/custom:1.0 is not available here" in deploy.error and "Astro Runtime image" in deploy.error


def test_it_rebuilds_an_earlier_deploys_project(alice, deployment, project):
    first = run(deployment, alice, project)
    again = deploys.deploy_redeploy(deploy=first, user=alice)
    deploys.deploy_execute(deploy_id=again.pk)
    again.refresh_from_db()
    assert again.state == Deploy.State.SUCCEEDED and again.source_deploy == first
    assert again.dag_bundle_version == first.dag_bundle_version and again.image_tag != first.image_tag


@pytest.mark.django_db(transaction=True)
def test_it_runs_a_deploy_through_redis_and_an_rq_worker(alice, deployment, project):
    queue = django_rq.get_queue("deploys")
    queue.empty()
    deploy = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(pack(project)))
    assert queue.job_ids == [deploy.job_id], "enqueued once the transaction committed"
    with pytest.raises(deploys.DeployConflict, match=f"Deploy {deploy.pk} is in progress"):
        deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(pack(project)))
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    deploy.refresh_from_db()
    assert deploy.state == Deploy.State.SUCCEEDED, deploy.error
    assert json.dumps(deploy.parse_results)
