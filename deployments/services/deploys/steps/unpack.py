"""UNPACKING: copy the stored archive, check it again, and unpack it into the run's folder."""
from __future__ import annotations

import shutil

from ... import archives
from ..context import RunContext
from ..plan import archive_requirement


def unpack(ctx: RunContext) -> None:
    deploy = ctx.deploy
    with deploy.archive.open("rb") as src, open(ctx.upload, "wb") as dst:
        shutil.copyfileobj(src, dst)
    info = archives.archive_inspect(ctx.upload, require=archive_requirement(kind=deploy.kind, image_name=deploy.image_name))
    archives.archive_extract(ctx.upload, info, ctx.project)
    ctx.upload.unlink()
    files = sum(1 for e in info.entries if not e.is_dir)
    ctx.log(f"Unpacked {files} files ({info.total_size:,} bytes) from the {info.format} archive.")
    if info.excluded:
        ctx.log(f"Left out (never deployed): {', '.join(sorted(info.excluded))}")
