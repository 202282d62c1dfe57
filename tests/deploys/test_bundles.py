import json
import os
import uuid

import boto3
import pytest
from django.conf import settings as django_settings
from django.core.files.storage import storages

from deployments.services import bundles
from tests import factories


def write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_it_versions_a_bundle_by_content_only(tmp_path):
    a = write(tmp_path / "a", {"x.py": "1", "sub/y.py": "2"})
    b = write(tmp_path / "b", {"sub/y.py": "2", "x.py": "1"})
    os.utime(b / "x.py", (0, 0))
    (b / "x.py").chmod(0o600)
    first, second = bundles.bundle_pack(a), bundles.bundle_pack(b)
    assert first.version == second.version and first.data == second.data
    (b / "x.py").write_text("changed")
    assert bundles.bundle_pack(b).version != first.version
    assert [f["path"] for f in first.files] == ["dags/sub/y.py", "dags/x.py"]


def test_it_leaves_out_bytecode_caches(tmp_path):
    root = write(tmp_path / "d", {"x.py": "1", "__pycache__/x.cpython-311.pyc": "junk"})
    assert [f["path"] for f in bundles.bundle_pack(root).files] == ["dags/x.py"]


def test_it_stores_a_bundle_immutably_with_a_manifest_and_checks_it_on_read(db, tmp_path):
    deployment = factories.DeploymentFactory()
    bundle = bundles.bundle_pack(write(tmp_path / "d", {"x.py": "print(1)"}))
    key = bundles.bundle_store(deployment=deployment, bundle=bundle, dag_ids=["b", "a"])
    assert bundles.bundle_store(deployment=deployment, bundle=bundle, dag_ids=["a", "b"]) == key
    assert f"deployment-{deployment.pk}/{bundle.version}" in key
    data, manifest = bundles.bundle_fetch(deployment=deployment, version=bundle.version)
    assert data == bundle.data and manifest["dag_ids"] == ["a", "b"] and manifest["files"][0]["path"] == "dags/x.py"
    storage = storages["bundles"]
    path = storage.path(key)
    with open(path, "wb") as fh:
        fh.write(b"tampered")
    with pytest.raises(bundles.BundleError, match="changed in storage"):
        bundles.bundle_fetch(deployment=deployment, version=bundle.version)


@pytest.mark.services
def test_it_stores_bundles_in_s3(db, tmp_path, settings):
    bucket = f"airdock-test-{uuid.uuid4().hex[:8]}"
    endpoint = django_settings.S3_OPTIONS["endpoint_url"]
    assert endpoint, "AIRDOCK_S3_ENDPOINT_URL must point at the S3 server of make services"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "bundles": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**django_settings.S3_OPTIONS, "bucket_name": bucket},
    }}
    deployment = factories.DeploymentFactory()
    bundle = bundles.bundle_pack(write(tmp_path / "d", {"x.py": "print(1)"}))
    key = bundles.bundle_store(deployment=deployment, bundle=bundle, dag_ids=["x"])
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == bundle.data
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key.replace(".tar.gz", ".manifest.json"))["Body"].read())
    assert manifest["archive_sha256"] == bundle.sha256
    assert bundles.bundle_fetch(deployment=deployment, version=bundle.version)[0] == bundle.data


@pytest.mark.services
def test_it_reports_a_missing_bucket_clearly(db, tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "bundles": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**django_settings.S3_OPTIONS, "bucket_name": "no-such-bucket-airdock"},
    }}
    bundle = bundles.bundle_pack(write(tmp_path / "d", {"x.py": "1"}))
    with pytest.raises(bundles.StorageError, match="Cannot store the DAG bundle"):
        bundles.bundle_store(deployment=factories.DeploymentFactory(), bundle=bundle, dag_ids=[])


def test_a_bundle_swapped_with_its_manifest_is_refused(db, tmp_path):
    """Whoever can write the bucket can replace a bundle and its manifest together: the version the
    database holds (the canonical tar's sha256) still tells."""
    deployment = factories.DeploymentFactory()
    good = bundles.bundle_pack(write(tmp_path / "good", {"x.py": "print(1)"}))
    evil = bundles.bundle_pack(write(tmp_path / "evil", {"x.py": "import os; os.system('steal')"}))
    bundles.bundle_store(deployment=deployment, bundle=good, dag_ids=["x"])
    storage = storages["bundles"]
    with open(storage.path(bundles.bundle_key(deployment, good.version)), "wb") as fh:
        fh.write(evil.data)
    manifest = storage.path(bundles.bundle_key(deployment, good.version, ".manifest.json"))
    data = json.loads(open(manifest).read())
    data["archive_sha256"] = evil.sha256
    with open(manifest, "w") as fh:
        fh.write(json.dumps(data))
    with pytest.raises(bundles.BundleError, match=f"{good.version[:12]} of {deployment} does not match its version"):
        bundles.bundle_fetch(deployment=deployment, version=good.version)
