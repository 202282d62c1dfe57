"""Malformed and malicious archives are rejected with a message naming the problem, before
anything is unpacked; accepted ones unpack only below the target folder."""
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from deployments.services.archives import ArchiveError, archive_extract, archive_inspect

PROJECT = {"Dockerfile": b"FROM astrocrpublic.azurecr.io/runtime:3.1-1\n", "dags/a.py": b"# dag\n"}


def tar_gz(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], name="p.tar.gz") -> Path:
    path = tmp_path / name
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_member(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def base_members():
    return [file_member(n, d) for n, d in PROJECT.items()]


def special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None


def zip_file(tmp_path: Path, entries: dict[str, bytes], name="p.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
    return path


@pytest.fixture
def small_limits(settings):
    settings.AIRDOCK_ARCHIVE_MAX_ENTRIES = 50
    settings.AIRDOCK_ARCHIVE_MAX_UNPACKED_BYTES = 5 * 1024 * 1024
    settings.AIRDOCK_ARCHIVE_MAX_RATIO = 50


def malicious_archives(tmp_path: Path) -> list[tuple[str, Path, str]]:
    cases = []

    def add(label, path, message):
        cases.append((label, path, message))

    add("traversal", tar_gz(tmp_path, base_members() + [file_member("../evil.py")], "t1.tar.gz"), "outside the project")
    add("nested traversal", tar_gz(tmp_path, base_members() + [file_member("dags/../../evil.py")], "t2.tar.gz"), "outside the project")
    add("absolute", tar_gz(tmp_path, base_members() + [file_member("/etc/evil")], "t3.tar.gz"), "absolute path")
    add("symlink", tar_gz(tmp_path, base_members() + [special("dags/link", tarfile.SYMTYPE, "/etc/passwd")], "t4.tar.gz"), "is a link")
    add("hardlink", tar_gz(tmp_path, base_members() + [special("dags/hard", tarfile.LNKTYPE, "Dockerfile")], "t5.tar.gz"), "is a link")
    add("device", tar_gz(tmp_path, base_members() + [special("dags/dev", tarfile.CHRTYPE)], "t6.tar.gz"), "device or special file")
    add("fifo", tar_gz(tmp_path, base_members() + [special("dags/fifo", tarfile.FIFOTYPE)], "t7.tar.gz"), "device or special file")
    add("duplicate", tar_gz(tmp_path, base_members() + [file_member("dags/a.py")], "t8.tar.gz"), "twice")
    add("case duplicate", zip_file(tmp_path, {**PROJECT, "dags/A.py": b"x"}, "z1.zip"), "twice")
    bad_name = tmp_path / "t9.tar.gz"
    with tarfile.open(bad_name, "w:gz", format=tarfile.GNU_FORMAT, encoding="latin-1") as archive:
        for name, data in PROJECT.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("dags/caf\xe9.py")  # latin-1 bytes: not UTF-8
        archive.addfile(info, io.BytesIO(b""))
    add("non-utf8 tar name", bad_name, "not valid UTF-8")
    bad_zip = tmp_path / "z2.zip"
    zip_file(tmp_path, {**PROJECT, "dags/QQ-marker.py": b""}, "z2.zip")
    # zipfile writes only valid names; put raw non-UTF-8 bytes in both headers by hand
    bad_zip.write_bytes(bad_zip.read_bytes().replace(b"QQ-marker", b"\xff\xfe-marker"))
    add("non-utf8 zip name", bad_zip, "not valid UTF-8")
    add("too many entries", tar_gz(tmp_path, base_members() + [file_member(f"dags/f{i}.py") for i in range(60)], "t10.tar.gz"), "more than 50 entries")
    add("too large", tar_gz(tmp_path, base_members() + [file_member("include/big.bin", os.urandom(6 * 1024 * 1024))], "t11.tar.gz"), "unpacks to more than")
    add("compression bomb", zip_file(tmp_path, {**PROJECT, "include/zeros.bin": b"\0" * (4 * 1024 * 1024)}, "z3.zip"), "compression bomb")
    whole = tar_gz(tmp_path, base_members() + [file_member("include/data.bin", os.urandom(200_000))], "whole.tar.gz")
    truncated = tmp_path / "t12.tar.gz"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    add("truncated tar.gz", truncated, "corrupt or truncated")
    corrupt = bytearray(zip_file(tmp_path, {**PROJECT, "include/data.txt": b"hello " * 5000}, "ok.zip").read_bytes())
    corrupt[60:90] = b"\xff" * 30
    (tmp_path / "z4.zip").write_bytes(bytes(corrupt))
    add("corrupt zip", tmp_path / "z4.zip", "corrupt")
    (tmp_path / "plain.txt").write_bytes(b"just some text, not an archive")
    add("not an archive", tmp_path / "plain.txt", "neither a .zip nor a .tar.gz")
    (tmp_path / "empty.zip").write_bytes(b"")
    add("empty file", tmp_path / "empty.zip", "empty")
    add("no Dockerfile", tar_gz(tmp_path, [file_member("dags/a.py")], "t13.tar.gz"), "no Dockerfile")
    add("no dags", tar_gz(tmp_path, [file_member("Dockerfile")], "t14.tar.gz"), "no dags/")
    add("backslash", zip_file(tmp_path, {**PROJECT, "dags\\..\\..\\evil.py": b"x"}, "z5.zip"), "backslashes")
    return cases


def test_it_rejects_malformed_and_malicious_archives_with_a_clear_message(tmp_path, small_limits):
    (tmp_path / "in").mkdir()
    cases = malicious_archives(tmp_path / "in")
    before = set(Path(tmp_path).rglob("*"))
    assert len(cases) >= 10
    wrong = []
    for label, path, message in cases:
        try:
            archive_inspect(path)
            wrong.append(f"{label}: accepted")
        except ArchiveError as exc:
            if message not in str(exc):
                wrong.append(f"{label}: {exc}")
    assert not wrong
    assert set(Path(tmp_path).rglob("*")) == before, "inspect wrote nothing anywhere"
    assert not Path("/tmp/evil.py").exists() and not Path("/etc/evil").exists()


def test_it_unpacks_only_below_the_target_and_leaves_out_secrets(tmp_path):
    entries = {
        **PROJECT, ".env": b"TOKEN=1", "airflow_settings.yaml": b"x", "certs/key.pem": b"k", ".git/config": b"c",
        "logs/old.log": b"l", "airflow.db": b"d", "include/helpers.py": b"def f(): pass\n",
    }
    path = zip_file(tmp_path, {f"my-project/{k}": v for k, v in entries.items()})
    info = archive_inspect(path)
    assert info.prefix == "my-project"
    assert sorted(info.excluded) == [".env", ".git/config", "airflow.db", "airflow_settings.yaml", "certs/key.pem", "logs/old.log"]
    dest = tmp_path / "out"
    dest.mkdir()
    archive_extract(path, info, dest)
    written = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert written == ["Dockerfile", "dags/a.py", "include/helpers.py"]


def test_it_stops_an_archive_that_unpacks_to_more_than_it_declares(tmp_path, settings):
    path = tar_gz(tmp_path, base_members() + [file_member("include/data.bin", os.urandom(4096))])
    info = archive_inspect(path)
    settings.AIRDOCK_ARCHIVE_MAX_UNPACKED_BYTES = 1000  # lower than the archive really holds
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ArchiveError, match="more than it declares"):
        archive_extract(path, info, dest)


def test_it_accepts_a_dags_only_archive_for_dag_deploys(tmp_path):
    path = tar_gz(tmp_path, [file_member("dags/a.py")])
    assert archive_inspect(path, require="dags").has_dir("dags")
    with pytest.raises(ArchiveError, match="needs a dags/ folder"):
        archive_inspect(tar_gz(tmp_path, [file_member("include/x.py")], "n.tar.gz"), require="dags")


def test_it_counts_entries_without_names_against_the_limit(tmp_path, small_limits):
    dirs = []
    for _ in range(60):
        info = tarfile.TarInfo("./")
        info.type = tarfile.DIRTYPE
        dirs.append((info, None))
    path = tar_gz(tmp_path, base_members() + dirs)
    with pytest.raises(ArchiveError, match="more than 50 entries"):
        archive_inspect(path)


def test_it_rejects_a_name_used_as_file_and_folder(tmp_path):
    path = tar_gz(tmp_path, base_members() + [file_member("include"), file_member("include/x.py")])
    with pytest.raises(ArchiveError, match="both as a file and as a folder"):
        archive_inspect(path)


def test_it_explains_a_zip_whose_utf8_flagged_name_is_not_utf8(tmp_path):
    path = zip_file(tmp_path, {**PROJECT, "dags/é-marker.py": b""})
    path.write_bytes(path.read_bytes().replace("é".encode(), b"\xff\xfe"))
    with pytest.raises(ArchiveError, match="not valid UTF-8"):
        archive_inspect(path)
