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


def zip_with(path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on a duplicate name: that is the point
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in PROJECT.items():
                archive.writestr(name, data)
            for info, data in entries:
                archive.writestr(info, data)
    return path


def zip_symlink(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o120777 << 16) | 0x3  # S_IFLNK, as `zip --symlinks` writes it
    info.create_system = 3
    return info, target.encode()


@pytest.mark.parametrize("label, entries, message", [
    ("traversal", [("../evil.py", b"x")], "'../evil.py'.*outside the project"),
    ("nested traversal", [("dags/../../evil.py", b"x")], "outside the project"),
    ("absolute", [("/etc/evil", b"x")], "'/etc/evil'.*absolute path"),
    ("symlink", [zip_symlink("dags/link.py", "/etc/passwd")], "'dags/link.py' is a symbolic link"),
    ("duplicate", [("dags/a.py", b"again")], "'dags/a.py'.*twice"),
    ("drive letter", [("C:/evil.py", b"x")], "C:/evil.py"),
])
def test_hostile_zip_entries_are_refused_naming_the_entry(tmp_path, label, entries, message):
    with pytest.raises(ArchiveError, match=message):
        archive_inspect(zip_with(tmp_path / f"{label}.zip", entries))


def test_a_zip_with_too_many_entries_is_refused(tmp_path, settings):
    settings.AIRDOCK_ARCHIVE_MAX_ENTRIES = 20
    with pytest.raises(ArchiveError, match="more than 20 entries"):
        archive_inspect(zip_with(tmp_path / "many.zip", [(f"dags/f{i}.py", b"") for i in range(30)]))


def test_a_zip_under_include_is_a_plain_file_of_the_project(tmp_path):
    inner = zip_file(tmp_path / "inner.zip", {"../../escape.py": b"x", "data.csv": b"a,b\n"})
    path = tar_gz(tmp_path / "p.tar.gz", {**PROJECT, "include/data.zip": inner.read_bytes()})
    info = archive_inspect(path)
    assert "include/data.zip" in info.names
    out = tmp_path / "out"
    out.mkdir()
    archives.archive_extract(path, info, out)
    assert (out / "include" / "data.zip").read_bytes() == inner.read_bytes()
    assert not (tmp_path / "escape.py").exists() and not (out / "data.csv").exists()
