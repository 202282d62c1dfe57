"""The portal's RQ worker makes the object stores' clients before it forks a work horse per job;
a work horse stores with the client it inherited (against the real S3 server of make services)."""
import os
import uuid

import boto3
import pytest
from django.conf import settings as django_settings
from django.core.files.storage import storages
from django_rq.workers import get_worker_class

from deployments.integrations import storage
from portal.worker import Worker, storage_clients_warm


def test_the_portal_runs_its_own_worker_class():
    assert get_worker_class() is Worker


def test_file_system_storages_have_no_client_to_make(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "bundles": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}}}
    assert storage_clients_warm() == []


@pytest.mark.services
def test_a_forked_work_horse_stores_with_the_client_its_parent_made(settings):
    bucket = f"airdock-test-{uuid.uuid4().hex[:8]}"
    endpoint = django_settings.S3_OPTIONS["endpoint_url"]
    assert endpoint, "AIRDOCK_S3_ENDPOINT_URL must point at the S3 server of make services"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "bundles": {
        "BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**django_settings.S3_OPTIONS, "bucket_name": bucket}}}
    assert storage_clients_warm() == ["bundles"]
    made = storages["bundles"].connection
    pid = os.fork()
    if pid == 0:  # the work horse: the same client, its own connection
        code = 1
        try:
            if storages["bundles"].connection is made:
                storage.put_new("forked/x.bin", b"from the work horse")
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert s3.get_object(Bucket=bucket, Key="forked/x.bin")["Body"].read() == b"from the work horse"
