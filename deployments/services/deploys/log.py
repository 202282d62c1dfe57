"""A deploy's log: lines saved in batches with a sequence number, so a page can resume from the
last line it has, and packed into compressed chunks once the deploy ends (log_compact). A log
longer than MAX_LINES keeps its head and its tail (where a failure's cause usually is), with one
line saying how many lines were left out between them."""
from __future__ import annotations

import collections
import time
from collections.abc import Callable

from django.db import transaction
from django.db.models import Max

from ...models import Deploy, DeployLogChunk, DeployLogLine
from ...models.deploy_log import CHUNK_LINES

MAX_LINE = 4000
MAX_LINES = 50_000
TAIL_LINES = 10_000  # of MAX_LINES, kept from the end of an overlong log


class DeployLog:
    def __init__(self, deploy: Deploy, *, on_flush: Callable[[list[DeployLogLine]], None] | None = None) -> None:
        self.deploy = deploy
        self.step = ""
        self.pending: list[DeployLogLine] = []
        self.seq = max(deploy.log_lines.aggregate(m=Max("seq"))["m"] or 0,
                       deploy.log_chunks.aggregate(m=Max("last_seq"))["m"] or 0)
        self.tail: collections.deque[tuple[str, str]] = collections.deque(maxlen=TAIL_LINES)
        self.dropped = 0
        self.last_flush = time.monotonic()
        self.on_flush = on_flush

    def __call__(self, text: str) -> None:
        self.write(text)

    def write(self, text: str) -> None:
        for line in str(text).splitlines() or [""]:
            if len(line) > MAX_LINE:
                line = line[:MAX_LINE] + " […]"
            if self.seq >= MAX_LINES - TAIL_LINES - 1:  # the head is full: keep the newest lines aside
                if len(self.tail) == self.tail.maxlen:
                    self.dropped += 1
                self.tail.append((self.step, line))
                continue
            self.seq += 1
            self.pending.append(DeployLogLine(deploy=self.deploy, seq=self.seq, step=self.step, text=line))
        if len(self.pending) >= 200 or time.monotonic() - self.last_flush > 0.5:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        lines, self.pending = self.pending, []
        DeployLogLine.objects.bulk_create(lines)
        if self.on_flush:
            self.on_flush(lines)

    def close(self) -> None:
        """Write the tail of an overlong log after a line saying how much was left out."""
        if self.dropped:
            self.seq += 1
            self.pending.append(DeployLogLine(
                deploy=self.deploy, seq=self.seq, step=self.step,
                text=f"[{self.dropped} log lines left out here: a log keeps its first and last lines, {MAX_LINES} in all]",
            ))
            self.dropped = 0
        while self.tail:
            step, line = self.tail.popleft()
            self.seq += 1
            self.pending.append(DeployLogLine(deploy=self.deploy, seq=self.seq, step=step, text=line))
        self.flush()


def log_compact(deploy_id: int) -> int:
    """Pack an ended deploy's log rows into compressed chunks and remove the rows; the number of
    lines packed (0 while it runs: a page follows its rows line by line)."""
    with transaction.atomic():
        if Deploy.objects.filter(pk=deploy_id, state__in=Deploy.ACTIVE_STATES).exists():
            return 0
        rows = list(DeployLogLine.objects.filter(deploy_id=deploy_id).order_by("seq").values_list("seq", "step", "text"))
        if not rows:
            return 0
        DeployLogChunk.objects.bulk_create(
            DeployLogChunk.pack(deploy_id, rows[i:i + CHUNK_LINES]) for i in range(0, len(rows), CHUNK_LINES))
        DeployLogLine.objects.filter(deploy_id=deploy_id, seq__lte=rows[-1][0]).delete()
    return len(rows)
