"""Retention: old deploys lose their log, archive, image and DAG bundle; what a rollback to a kept
deploy needs stays. The last test runs against the real engine, registry (with its garbage
collection) and bundle storage."""
import io
import os
from datetime import timedelta
from pathlib import Path

import docker
import pytest
import requests
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from deployments.models import Deploy, DeployLogLine
from deployments.services import bundles, retention
from deployments.services.bundles import BundleError
from deployments.services.deploys import create
from portal.errors import Invalid
from tests import factories

DAY = timedelta(days=1)


def ended(deployment, days_ago: float, **fields) -> Deploy:
    deploy = factories.DeployFactory(deployment=deployment, **fields)
    at = timezone.now() - days_ago * DAY
    Deploy.objects.filter(pk=deploy.pk).update(created_at=at, finished_at=at)
    deploy.refresh_from_db()
    return deploy


def digest(n: int) -> str:
    return "sha256:" + f"{n:x}".rjust(64, "0")


@pytest.fixture
def retain(settings):
    settings.AIRDOCK_RETENTION_DAYS = 30
    settings.AIRDOCK_RETENTION_KEEP_DEPLOYS = 2


def test_it_keeps_the_last_deploys_the_recent_ones_and_the_image_a_kept_dag_only_deploy_runs(deployment, retain):
    old_image = ended(deployment, 90, image_digest=digest(1), dag_bundle_version="a" * 64)  # the image of...
    older = ended(deployment, 80, image_digest=digest(2), dag_bundle_version="b" * 64)
    failed = ended(deployment, 75, state=Deploy.State.FAILED, image_digest=digest(9))
    back = ended(deployment, 70, is_rollback=True, image_digest=digest(1), dag_bundle_version="c" * 64)
    dags_only = ended(deployment, 60, kind=Deploy.Kind.DAGS, dag_bundle_version="d" * 64)  # ...this one, kept
    recent = ended(deployment, 5, state=Deploy.State.FAILED, image_digest=digest(3))
    kept = retention.kept(deployment, timezone.now())
    assert kept.deploys == {back.pk, dags_only.pk, recent.pk}  # the last two successful ones, the recent one
    assert kept.digests == {digest(1), digest(3)} and kept.bundles == {"c" * 64, "d" * 64}
    assert {old_image.pk, older.pk, failed.pk}.isdisjoint(kept.deploys)


def test_a_pruned_deploy_cannot_be_rolled_back_to_or_built_again(deployment, retain, alice):
    old = ended(deployment, 90, image_digest=digest(1), dag_bundle_version="a" * 64)
    old.archive.save("p.tar.gz", ContentFile(b"project"), save=True)
    archive = Path(old.archive.path)
    DeployLogLine.objects.create(deploy=old, seq=1, text="built")
    for n in (2, 3):
        ended(deployment, 1, image_digest=digest(n), dag_bundle_version=f"{n}" * 64)
    report = retention.prune(collect_garbage=False)  # nothing of old's is in a registry or store here
    assert report.deploys == 1 and report.archives == 1 and report.logs == 1
    old.refresh_from_db()
    assert old.pruned_at and not old.archive and not archive.exists() and not old.log_lines.exists()
    with pytest.raises(Invalid, match=f"Deploy {old.pk} was pruned on .* Roll back to a newer deploy"):
        create.deployment_rollback(deployment=deployment, deploy_id=old.pk, user=alice)
    with pytest.raises(Invalid, match="its uploaded project is gone"):
        create.deploy_redeploy(deploy=old, user=alice)
    assert retention.prune(collect_garbage=False).deploys == 0  # once


def registry_blob(digest_: str) -> Path:
    root = Path(django_settings.SERVICES_SECRETS.parent) / "registry" / "docker" / "registry" / "v2" / "blobs" / "sha256"
    return root / digest_.removeprefix("sha256:")[:2] / digest_.removeprefix("sha256:") / "data"


def pushed(deployment, tmp_path: Path, n: int) -> tuple[str, str, str, str]:
    """Build a small image with a layer of its own, push it to the deployment's repository:
    (repository, tag, digest), and the digest of its own layer."""
    engine = docker.from_env()
    context = tmp_path / f"image-{n}"
    context.mkdir()
    (context / "unique.bin").write_bytes(f"{n}".encode() + os.urandom(256 * 1024))
    (context / "Dockerfile").write_text("FROM airdock/runtime-base:bookworm\nCOPY unique.bin /unique.bin\n")
    image, _ = engine.images.build(path=str(context), tag=f"airdock-test-retention:{n}", rm=True)
    repository = f"{django_settings.AIRDOCK_REGISTRY}/{deployment.workspace.organization.slug}/deployment-{deployment.pk}"
    tag = f"deploy-retention-{n}"
    image.tag(repository, tag)
    auth = {"username": django_settings.AIRDOCK_REGISTRY_USERNAME, "password": django_settings.AIRDOCK_REGISTRY_PASSWORD}
    found = ""
    for event in engine.api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth):
        assert "error" not in event, event
        found = event.get("aux", {}).get("Digest") or found
    engine.images.remove(f"airdock-test-retention:{n}")
    manifest = requests.get(f"http://{django_settings.AIRDOCK_REGISTRY}/v2/{repository.partition('/')[2]}/manifests/{found}",
                            auth=(auth["username"], auth["password"]),
                            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"}, timeout=30).json()
    return repository, tag, found, manifest["layers"][-1]["digest"]


def stored_bundle(deployment, tmp_path: Path, n: int) -> str:
    dags = tmp_path / f"dags-{n}"
    dags.mkdir()
    (dags / "dag.py").write_text(f"# version {n}\n")
    bundle = bundles.bundle_pack(dags)
    bundles.bundle_store(deployment=deployment, bundle=bundle, dag_ids=[])
    return bundle.version


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_prune_deletes_old_images_in_the_engine_and_registry_collects_their_layers_and_keeps_the_rest(
        deployment, retain, tmp_path, isolated_storage):
    made = []
    for n, days_ago in ((1, 90), (2, 80), (3, 2), (4, 1)):
        repository, tag, image_digest, layer = pushed(deployment, tmp_path, n)
        version = stored_bundle(deployment, tmp_path, n)
        deploy = ended(deployment, days_ago, image_repository=repository, image_tag=tag, image_digest=image_digest,
                       dag_bundle_version=version)
        made.append((deploy, layer))
    (old, old_layer), (older, _), (kept, kept_layer), (current, _) = made
    deployment.current_deploy = current
    deployment.desired_image_digest, deployment.desired_dag_bundle_version = current.image_digest, current.dag_bundle_version
    deployment.save()
    assert registry_blob(old_layer).exists()
    before = sum(f.stat().st_size for f in registry_blob(old_layer).parents[2].rglob("data"))

    call_command("airdock_prune", stdout=(out := io.StringIO()))
    assert "Pruned 2 deploy(s)" in out.getvalue() and "2 image(s), 2 DAG bundle(s)" in out.getvalue(), out.getvalue()
    assert "Registry garbage collection:" in out.getvalue()
    auth = (django_settings.AIRDOCK_REGISTRY_USERNAME, django_settings.AIRDOCK_REGISTRY_PASSWORD)
    accept = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}

    def manifest(deploy):
        return requests.head(f"http://{django_settings.AIRDOCK_REGISTRY}/v2/{deploy.image_repository.partition('/')[2]}"
                             f"/manifests/{deploy.image_digest}", auth=auth, headers=accept, timeout=30).status_code

    assert manifest(old) == 404 and manifest(older) == 404
    assert manifest(kept) == 200 and manifest(current) == 200
    engine = docker.from_env()
    tags = {t for image in engine.images.list(name=old.image_repository) for t in image.tags}
    assert f"{old.image_repository}:{old.image_tag}" not in tags and f"{kept.image_repository}:{kept.image_tag}" in tags
    assert not registry_blob(old_layer).exists() and registry_blob(kept_layer).exists()  # collected
    after = sum(f.stat().st_size for f in registry_blob(old_layer).parents[2].rglob("data"))
    assert after < before
    for deploy in (old, older):
        with pytest.raises(BundleError):
            bundles.bundle_fetch(deployment=deployment, version=deploy.dag_bundle_version)
    for deploy in (kept, current):
        assert bundles.bundle_fetch(deployment=deployment, version=deploy.dag_bundle_version)
    print(f"\nregistry blobs before and after the prune: {before / 2**20:.1f} MiB, {after / 2**20:.1f} MiB")
