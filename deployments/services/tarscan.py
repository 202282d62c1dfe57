"""A bounded first look at a .tar.gz, before Python's tarfile reads it: tarfile reads a PAX or GNU
long-name header whole into memory, so a 65 KB upload whose header claims 200 MB would grow the web
process by that much. This walks the 512-byte headers of the decompressed stream, skipping data,
and refuses any such header larger than MAX_HEADER_BYTES; memory stays constant."""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from portal.errors import Invalid

BLOCK = 512
MAX_HEADER_BYTES = 64 * 1024  # a PAX record set or a long name beyond this is no Astro project's
EXTENDED = {b"x": "PAX header", b"g": "PAX global header", b"L": "GNU long name", b"K": "GNU long link name"}


def _size(field: bytes) -> int:
    if field and field[0] & 0x80:  # base-256, for sizes beyond 8 GiB
        return int.from_bytes(field[1:], "big")
    digits = field.split(b"\0", 1)[0].strip()
    return int(digits or b"0", 8)


class ArchiveError(Invalid):
    """The archive is rejected; the message tells the user what to fix."""


def tar_headers_check(path: Path, *, max_headers: int) -> None:
    """Raise ArchiveError on an oversized extended header or a malformed one."""
    count = 0
    try:
        with gzip.open(path, "rb") as stream:
            while True:
                header = stream.read(BLOCK)
                if len(header) < BLOCK or header == b"\0" * BLOCK:
                    return  # the end (or a truncation tarfile reports with its own message)
                count += 1
                if count > max_headers * 2 + 16:
                    raise ArchiveError(f"The archive has more than {max_headers:,} entries; remove what the project does not need.")
                try:
                    size = _size(header[124:136])
                except ValueError as exc:
                    raise ArchiveError(f"Header {count} of the .tar.gz archive is malformed; pack it again.") from exc
                kind = header[156:157]
                if kind in EXTENDED and size > MAX_HEADER_BYTES:
                    raise ArchiveError(
                        f"Header {count} of the archive is a {EXTENDED[kind]} of {size:,} bytes (the limit is "
                        f"{MAX_HEADER_BYTES:,}); pack the project with ordinary names."
                    )
                remaining = (size + BLOCK - 1) // BLOCK * BLOCK
                while remaining:
                    chunk = stream.read(min(remaining, 1 << 20))
                    if not chunk:
                        return
                    remaining -= len(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"The .tar.gz archive is corrupt or truncated ({exc}); pack it again.") from exc

