"""Check an uploaded Astro project archive before anything is unpacked, then unpack it safely.

Every entry is read once in `archive_inspect` (which also finds truncated or corrupt archives);
`archive_extract` writes only regular files and folders below a fresh directory, counting bytes
again as it writes, so an archive that lies about its sizes still cannot exceed the limits.
"""
from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
import tarfile
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable

from django.conf import settings

from .tarscan import ArchiveError, tar_headers_check

# Never reach an image or a bundle, whatever the project's .dockerignore says.
EXCLUDED_NAMES = (
    ".env", ".env.*", "airflow_settings.yaml", "airflow_settings.yml", "airflow.db", "*.pem", "*.key",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc", ".pgpass",
)
EXCLUDED_DIRS = (".git", ".aws", ".ssh", ".gnupg")
EXCLUDED_TOP_DIRS = ("logs",)


@dataclass
class Entry:
    name: str  # normalized relative path, without the wrapping folder
    is_dir: bool
    size: int
    source: str  # the name inside the archive


@dataclass
class ArchiveInfo:
    format: str
    entries: list[Entry]
    total_size: int
    compressed_size: int
    excluded: list[str] = field(default_factory=list)
    prefix: str = ""

    @property
    def names(self) -> set[str]:
        return {e.name for e in self.entries}

    def has_file(self, name: str) -> bool:
        return any(e.name == name and not e.is_dir for e in self.entries)

    def has_dir(self, name: str) -> bool:
        return any(e.name == name or e.name.startswith(name + "/") for e in self.entries)


def limits() -> dict[str, int]:
    return {
        "max_upload": settings.AIRDOCK_ARCHIVE_MAX_BYTES,
        "max_entries": settings.AIRDOCK_ARCHIVE_MAX_ENTRIES,
        "max_total": settings.AIRDOCK_ARCHIVE_MAX_UNPACKED_BYTES,
        "max_ratio": settings.AIRDOCK_ARCHIVE_MAX_RATIO,
    }


def is_excluded(name: str) -> bool:
    parts = name.split("/")
    if parts[0] in EXCLUDED_TOP_DIRS or any(p in EXCLUDED_DIRS for p in parts):
        return True
    return any(fnmatch.fnmatch(parts[-1], pattern) for pattern in EXCLUDED_NAMES)


def _normalize(raw: str) -> str:
    if "\x00" in raw:
        raise ArchiveError(f"The entry {raw!r} has a NUL byte in its name.")
    if len(raw) > 4096:
        raise ArchiveError(f"The entry {raw[:80]!r}… has a name that is too long.")
    odd = next((c for c in raw if unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp")), None)
    if odd is not None:
        raise ArchiveError(
            f"The entry {raw!r} has a control, format or bidirectional character in its name "
            f"(U+{ord(odd):04X}); rename it."
        )
    if "\\" in raw:
        raise ArchiveError(f"The entry {raw!r} uses backslashes; use '/' in archive paths.")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise ArchiveError(f"The entry {raw!r} has an absolute path; archive paths must be relative.")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ArchiveError(f"The entry {raw!r} points outside the project ('..'); remove it and pack again.")
    if not parts:
        return ""
    name = "/".join(parts)
    if len(name) > 1024 or any(len(p) > 255 for p in parts):
        raise ArchiveError(f"The entry {raw[:80]!r}… has a name that is too long.")
    return name


def _check_utf8(raw: bytes | str, shown: str) -> None:
    try:
        (raw if isinstance(raw, bytes) else raw.encode("utf-8", "strict")).decode("utf-8", "strict")
    except UnicodeError as exc:
        raise ArchiveError(f"The entry {shown!r} has a name that is not valid UTF-8; rename it.") from exc


def _sniff(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "tar.gz"
    raise ArchiveError("The file is neither a .zip nor a .tar.gz archive; upload the project packed as one of those.")


def _zip_entries(path: Path) -> Iterable[tuple[str, bool, int, int]]:
    """Yield (name, is_dir, size, compressed size) after reading every member once (CRC check)."""
    try:
        archive = zipfile.ZipFile(path)
    except UnicodeDecodeError as exc:
        raise ArchiveError("The .zip archive has an entry whose name is not valid UTF-8; rename it.") from exc
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ArchiveError(f"The .zip archive is corrupt or truncated ({exc}); pack it again.") from exc
    with archive:
        for info in archive.infolist():
            if info.flag_bits & 0x800:
                raw = info.filename
            else:  # names without the UTF-8 flag were decoded as cp437: recover the bytes
                raw_bytes = info.filename.encode("cp437")
                _check_utf8(raw_bytes, info.filename)
                raw = raw_bytes.decode("utf-8")
            if info.flag_bits & 0x1:
                raise ArchiveError(f"The entry {raw!r} is encrypted; upload an archive without a password.")
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                what = "a symbolic link" if kind == stat.S_IFLNK else "a special file"
                raise ArchiveError(f"The entry {raw!r} is {what}; only regular files and folders are allowed.")
            yield raw, info.is_dir(), info.file_size, info.compress_size
        try:
            bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise ArchiveError(f"The .zip archive is corrupt or truncated ({exc}); pack it again.") from exc
        if bad:
            raise ArchiveError(f"The .zip archive is corrupt: {bad!r} fails its checksum; pack it again.")


def _tar_entries(path: Path) -> Iterable[tuple[str, bool, int, int]]:
    try:
        archive = tarfile.open(path, mode="r:gz", encoding="utf-8", errors="surrogateescape")
        with archive:
            for member in archive:
                raw = member.name
                _check_utf8(raw, raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
                if member.issym() or member.islnk():
                    raise ArchiveError(f"The entry {raw!r} is a link; only regular files and folders are allowed.")
                if not (member.isfile() or member.isdir()):
                    raise ArchiveError(f"The entry {raw!r} is a device or special file; only regular files and folders are allowed.")
                # The caller checks the declared size first; then the data is read so truncation
                # and corruption show now, never more than the limits allow.
                yield raw, member.isdir(), member.size if member.isfile() else 0, 0
                if member.isfile():
                    stream = archive.extractfile(member)
                    assert stream is not None
                    while stream.read(1 << 20):
                        pass
    except ArchiveError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"The .tar.gz archive is corrupt or truncated ({exc}); pack it again.") from exc


def archive_inspect(path: Path, *, require: str = "project") -> ArchiveInfo:
    """Validate an archive without unpacking it; raise ArchiveError naming the first problem.

    require: "project" needs a Dockerfile and dags/ (image deploys); "dags" needs dags/ only.
    """
    lim = limits()
    compressed = path.stat().st_size
    if compressed == 0:
        raise ArchiveError("The uploaded file is empty.")
    if compressed > lim["max_upload"]:
        raise ArchiveError(f"The archive is {compressed:,} bytes; the limit is {lim['max_upload']:,} bytes.")
    with open(path, "rb") as fh:
        fmt = _sniff(fh.read(8))
    if fmt == "tar.gz":
        tar_headers_check(path, max_headers=lim["max_entries"])
    raw_entries = _zip_entries(path) if fmt == "zip" else _tar_entries(path)
    entries: list[Entry] = []
    seen: dict[str, str] = {}
    total = 0
    count = 0
    for raw, is_dir, size, _compressed in raw_entries:
        count += 1
        if count > lim["max_entries"]:
            raise ArchiveError(f"The archive has more than {lim['max_entries']:,} entries; remove what the project does not need.")
        name = _normalize(raw)
        if not name:
            continue
        key = unicodedata.normalize("NFC", name).casefold()  # names the same on any file system
        if key in seen and not is_dir:
            raise ArchiveError(f"The archive holds {name!r} twice (also as {seen[key]!r}); keep one.")
        seen[key] = name
        total += size
        if total > lim["max_total"]:
            raise ArchiveError(f"The archive unpacks to more than {lim['max_total']:,} bytes; the limit is {lim['max_total']:,}.")
        entries.append(Entry(name=name, is_dir=is_dir, size=size, source=raw))
    if compressed and total / compressed > lim["max_ratio"] and total > 1 << 20:
        raise ArchiveError(
            f"The archive expands {total / compressed:,.0f} times (limit {lim['max_ratio']}); "
            "it looks like a compression bomb."
        )
    files = {e.name for e in entries if not e.is_dir}
    for entry in entries:
        parent = entry.name.rsplit("/", 1)[0] if "/" in entry.name else ""
        while parent:
            if parent in files:
                raise ArchiveError(f"The archive holds {parent!r} both as a file and as a folder; keep one.")
            parent = parent.rsplit("/", 1)[0] if "/" in parent else ""
        if entry.is_dir and entry.name in files:
            raise ArchiveError(f"The archive holds {entry.name!r} both as a file and as a folder; keep one.")
    info = ArchiveInfo(format=fmt, entries=entries, total_size=total, compressed_size=compressed)
    _strip_wrapping_folder(info)
    info.excluded = [e.name for e in info.entries if is_excluded(e.name)]
    info.entries = [e for e in info.entries if not is_excluded(e.name)]
    if require == "project":
        if not info.has_file("Dockerfile"):
            raise ArchiveError("This is not an Astro project: there is no Dockerfile at its root. Pack the project folder (the one with Dockerfile and dags/).")
        if not info.has_dir("dags"):
            raise ArchiveError("This is not an Astro project: there is no dags/ folder at its root.")
    elif require == "dags" and not info.has_dir("dags"):
        raise ArchiveError("A DAG-only deploy needs a dags/ folder at the project's root; none was found.")
    return info


def _strip_wrapping_folder(info: ArchiveInfo) -> None:
    """Accept a project packed with its folder (`my-project/Dockerfile`) as well as without."""
    tops = {e.name.split("/", 1)[0] for e in info.entries}
    if len(tops) != 1 or info.has_file("Dockerfile") or info.has_dir("dags"):
        return
    top = tops.pop()
    inner = [e for e in info.entries if e.name != top]
    if not inner or not all(e.name.startswith(top + "/") for e in inner):
        return
    for entry in inner:
        entry.name = entry.name[len(top) + 1:]
    info.entries = inner
    info.prefix = top


def _write(dest: Path, entry: Entry, stream: IO[bytes], budget: list[int]) -> None:
    target = dest / entry.name
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not parent.resolve().is_relative_to(dest.resolve()):
        raise ArchiveError(f"The entry {entry.source!r} would be written outside the project.")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(1 << 20):
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise ArchiveError("The archive unpacks to more than it declares; it looks like a compression bomb.")
            out.write(chunk)


def archive_extract(path: Path, info: ArchiveInfo, dest: Path) -> None:
    """Unpack the entries `archive_inspect` accepted into the empty folder `dest`."""
    if any(dest.iterdir()):
        raise ValueError(f"{dest} is not empty")
    wanted = {e.source: e for e in info.entries}
    budget = [limits()["max_total"]]
    if info.format == "zip":
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                raw = member.filename if member.flag_bits & 0x800 else member.filename.encode("cp437").decode("utf-8")
                entry = wanted.get(raw)
                if entry is None:
                    continue
                if entry.is_dir:
                    (dest / entry.name).mkdir(parents=True, exist_ok=True)
                else:
                    with archive.open(member) as stream:
                        _write(dest, entry, stream, budget)
    else:
        with tarfile.open(path, mode="r:gz", encoding="utf-8", errors="surrogateescape") as archive:
            for member in archive:
                entry = wanted.get(member.name)
                if entry is None:
                    continue
                if entry.is_dir:
                    (dest / entry.name).mkdir(parents=True, exist_ok=True)
                else:
                    stream = archive.extractfile(member)
                    assert stream is not None
                    _write(dest, entry, stream, budget)


def archive_from_files(files: list[tuple[str, IO[bytes], int]], out: IO[bytes]) -> None:
    """Pack files picked as a folder in the browser (relative path, stream, size) into a .tar.gz."""
    total, limit = 0, limits()["max_total"]
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for relpath, stream, size in files:
            total += size
            if total > limit:
                raise ArchiveError(f"The folder holds more than {limit:,} bytes; the limit is {limit:,}.")
            info = tarfile.TarInfo(relpath)
            info.size, info.mode = size, 0o644
            archive.addfile(info, stream)


def archive_repack(path: Path, info: ArchiveInfo, out: Path) -> None:
    """Store only what was accepted: the entries `archive_inspect` kept, as a fresh .tar.gz
    (never-shipped files such as .env and keys are gone from what the portal keeps)."""
    import shutil
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="airdock-repack-"))
    try:
        archive_extract(path, info, work)
        with tarfile.open(out, mode="w:gz") as archive:
            for entry in sorted(info.entries, key=lambda e: e.name):
                archive.add(work / entry.name, entry.name, recursive=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()

