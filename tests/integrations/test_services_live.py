"""The services `make services` starts answer. These never skip: a missing service fails."""
import urllib.request
import uuid

import boto3
import docker
import pytest
import redis
from django.conf import settings

from tests.services import registry_auth_header

pytestmark = pytest.mark.services


def test_it_reaches_redis():
    assert redis.Redis.from_url(settings.REDIS_URL).ping() is True


def test_it_reaches_the_docker_engine():
    version = docker.from_env().version()
    assert int(version["ApiVersion"].split(".")[1]) >= 41


def test_it_reaches_the_registry():
    request = urllib.request.Request(f"http://{settings.AIRDOCK_REGISTRY}/v2/", headers=registry_auth_header())
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
        assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"


def test_it_reaches_the_s3_server():
    s3 = boto3.client("s3", endpoint_url=settings.S3_OPTIONS["endpoint_url"], region_name="us-east-1")
    bucket = f"airdock-check-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"hello"
