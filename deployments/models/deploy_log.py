"""A finished deploy's log, stored compactly: its lines in chunks of CHUNK_LINES, each chunk one
zlib-compressed JSON list of [seq, step, text]. A running deploy writes DeployLogLine rows (a page
follows them line by line); when it ends they are packed into chunks and the rows removed."""
from __future__ import annotations

import json
import zlib

from django.db import models

from .deploy import Deploy

CHUNK_LINES = 1000


class DeployLogChunk(models.Model):
    deploy = models.ForeignKey(Deploy, on_delete=models.CASCADE, related_name="log_chunks")
    first_seq = models.PositiveIntegerField()
    last_seq = models.PositiveIntegerField()
    data = models.BinaryField(help_text="zlib-compressed JSON: [[seq, step, text], …]")

    class Meta:
        ordering = ["deploy", "first_seq"]
        constraints = [models.UniqueConstraint(fields=["deploy", "first_seq"], name="unique_log_chunk")]

    def __str__(self) -> str:
        return f"lines {self.first_seq}–{self.last_seq} of deploy {self.deploy_id}"

    @classmethod
    def pack(cls, deploy_id: int, lines: list[tuple[int, str, str]]) -> DeployLogChunk:
        data = zlib.compress(json.dumps(lines, ensure_ascii=False, separators=(",", ":")).encode(), 6)
        return cls(deploy_id=deploy_id, first_seq=lines[0][0], last_seq=lines[-1][0], data=data)

    def lines(self) -> list[dict]:
        return [{"seq": seq, "step": step, "text": text} for seq, step, text in json.loads(zlib.decompress(bytes(self.data)))]
