"""Faults: S3 cannot be reached while a deploy is about to store its DAG bundle (a switch in front
of the S3 server of `make services` is turned off, as if it were stopped: moto would lose its
objects on a real restart). Off for a few seconds, it costs a retry and the deploy succeeds; off
for good, the deploy fails naming the upload after its bounded attempts, and nothing is activated."""
import io
import time
from urllib.parse import urlsplit

import boto3
import pytest
from django.conf import settings as django_settings

from deployments.models import Deploy, Deployment
from deployments.selectors import deploy_log_text
from deployments.services import deploys
from tests.faults.conftest import run_watching
from tests.faults.switch import Switch
from tests.projects import make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def s3(settings):
    endpoint = django_settings.S3_OPTIONS["endpoint_url"]
    assert endpoint, "AIRDOCK_S3_ENDPOINT_URL must point at the S3 server of make services"
    bucket = "airdock-faults"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    parts = urlsplit(endpoint)
    switch = Switch((parts.hostname, parts.port))
    settings.STORAGES = {**settings.STORAGES, "bundles": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**django_settings.S3_OPTIONS, "bucket_name": bucket, "endpoint_url": switch.url}}}
    yield switch
    switch.off()


def deploy_cutting_s3(deployment, alice, root, s3: Switch, *, off_for: float | None) -> Deploy:
    """Run a deploy; cut S3 once it pushes (before its upload), and bring it back `off_for` seconds
    after the upload began (never, with None)."""
    made = deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(pack(root)))
    cut, off = [False], [off_for]

    def on_state(state: str) -> None:
        if state in (Deploy.State.PUSHING, Deploy.State.UPLOADING_DAGS) and not cut[0]:  # a push from cache is quick
            s3.off()
            cut[0] = True
        if state == Deploy.State.UPLOADING_DAGS and off[0] is not None:
            time.sleep(off[0])
            s3.on()
            off[0] = None

    run_watching(made, on_state)
    assert cut[0], "the deploy never reached its push"
    return made


def test_s3_unreachable_for_a_moment_costs_a_retry_not_the_deploy(alice, deployment, tmp_path, s3):
    made = deploy_cutting_s3(deployment, alice, make_project(tmp_path / "p"), s3, off_for=3)
    log = deploy_log_text(made)
    assert made.state == Deploy.State.SUCCEEDED, made.error
    assert "WARNING: the DAG bundle upload failed (attempt 1 of" in log
    assert Deployment.objects.get(pk=deployment.pk).desired_dag_bundle_version == made.dag_bundle_version


def test_s3_that_stays_unreachable_fails_the_deploy_naming_the_upload(alice, deployment, tmp_path, s3, settings):
    settings.AIRDOCK_TRANSFER_RETRY_DELAYS = [1.0, 2.0]
    made = deploy_cutting_s3(deployment, alice, make_project(tmp_path / "p"), s3, off_for=None)
    assert made.state == Deploy.State.FAILED
    assert "(the DAG bundle upload was tried 3 times)" in made.error
    assert made.steps.get(name=Deploy.State.UPLOADING_DAGS).state == "FAILED"
    assert Deployment.objects.get(pk=deployment.pk).current_deploy_id is None  # nothing activated
