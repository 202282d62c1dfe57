"""Hostile archives, refused with a message naming the entry, in bounded memory; what is kept of an
accepted upload holds no secrets (.env files, cloud credentials, keys)."""
import gzip
import io
import tarfile
import tracemalloc
import zipfile

import pytest

from deployments.services import archives, deploys
from deployments.services.archives import ArchiveError, archive_inspect
from deployments.services.deploys import create
from tests import factories

PROJECT = {"Dockerfile": b"FROM astrocrpublic.azurecr.io/runtime:3.1-21\n", "dags/a.py": b"# dag\n"}


def tar_gz(path, files: dict[str, bytes], *, pax: dict | None = None):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if pax:
                info.pax_headers = pax
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return path


def zip_file(path, files: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("name, message", [
    ("dags/evil\x1bname.py", "control, format or bidirectional character"),
    ("dags/new\nline.py", "control, format or bidirectional character"),
    ("dags/\u202egnp.py", r"U\+202E"),
    ("dags/zero\u200bwidth.py", r"U\+200B"),
])
@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_names_with_control_format_or_bidi_characters_are_refused(tmp_path, name, message, fmt):
    files = {**PROJECT, name: b"x"}
    path = tar_gz(tmp_path / "a.tar.gz", files) if fmt == "tar" else zip_file(tmp_path / "a.zip", files)
    with pytest.raises(ArchiveError, match=message):
        archive_inspect(path)


@pytest.mark.parametrize("first, second", [
    ("dags/caf\u00e9.py", "dags/cafe\u0301.py"),  # NFC and NFD of the same name
    ("dags/Report.py", "dags/report.py"),  # case
    ("dags/\u212bngstrom.py", "dags/\u00c5ngstrom.py"),  # Angstrom sign and A-ring: NFC-equal
])
def test_names_that_collide_after_nfc_and_casefold_are_refused(tmp_path, first, second):
    with pytest.raises(ArchiveError, match="twice"):
        archive_inspect(tar_gz(tmp_path / "a.tar.gz", {**PROJECT, first: b"1", second: b"2"}))


def test_a_huge_pax_header_is_refused_before_it_is_read(tmp_path):
    """65 KB on the wire that claims a 200 MB extended header: refused, and memory stays small."""
    raw = io.BytesIO()
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, 200 * 1024 * 1024
    raw.write(header.tobuf(format=tarfile.USTAR_FORMAT))
    raw.write(b"9" * (1024 * 1024))  # the start of a header record that never ends
    path = tmp_path / "bomb.tar.gz"
    path.write_bytes(gzip.compress(raw.getvalue(), compresslevel=9))
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="PAX header of 209,715,200 bytes"):
            archive_inspect(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"inspection peaked at {peak:,} bytes"


def test_a_long_gnu_name_beyond_the_limit_is_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as archive:
        for name, data in {**PROJECT, "dags/" + "x" * 70_000 + ".py": b"1"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path = tmp_path / "long.tar.gz"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ArchiveError, match="GNU long name"):
        archive_inspect(path)


CANARY = b"AIRDOCK-CANARY-7f3a"
SECRETS = {
    ".env": b"TOKEN=" + CANARY, ".env.production": b"TOKEN=" + CANARY, ".aws/credentials": CANARY,
    "airflow_settings.yaml": CANARY, "airflow_settings.yml": CANARY, "include/id_rsa": CANARY,
    "include/server.key": CANARY, "include/cert.pem": CANARY, ".ssh/id_ed25519": CANARY,
}


def test_secrets_never_reach_the_stored_archive(db, tmp_path, alice, workspace, monkeypatch):
    monkeypatch.setattr(create, "deploy_enqueue", lambda *, deploy: None)
    path = tar_gz(tmp_path / "p.tar.gz", {**PROJECT, "include/helpers.py": b"x = 1\n", **SECRETS})
    info = archive_inspect(path)
    assert set(SECRETS) <= set(info.excluded)
    deployment = factories.DeploymentFactory(workspace=workspace)
    deploy = deploys.deploy_create(deployment=deployment, user=alice, archive=open(path, "rb"))
    with deploy.archive.open("rb") as stored:
        data = stored.read()
    assert CANARY not in gzip.decompress(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as kept:
        assert sorted(kept.getnames()) == ["Dockerfile", "dags/a.py", "include/helpers.py"]
    assert deploy.archive_sha256 == archives.sha256_file(deploy.archive.path)
