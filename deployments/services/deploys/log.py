"""A deploy's log: lines saved in batches with a sequence number, so a page can resume from the
last line it has; the whole log always stays in the database."""
from __future__ import annotations

import time
from typing import Callable

from django.db.models import Max

from ...models import Deploy, DeployLogLine

MAX_LINE = 4000
MAX_LINES = 50_000


class DeployLog:
    def __init__(self, deploy: Deploy, *, on_flush: Callable[[list[DeployLogLine]], None] | None = None) -> None:
        self.deploy = deploy
        self.step = ""
        self.pending: list[DeployLogLine] = []
        self.seq = deploy.log_lines.aggregate(m=Max("seq"))["m"] or 0
        self.dropped = 0
        self.last_flush = time.monotonic()
        self.on_flush = on_flush

    def __call__(self, text: str) -> None:
        self.write(text)

    def write(self, text: str) -> None:
        for line in str(text).splitlines() or [""]:
            if self.seq >= MAX_LINES:
                self.dropped += 1
                continue
            if len(line) > MAX_LINE:
                line = line[:MAX_LINE] + " […]"
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
        if self.dropped:
            self.dropped, dropped = 0, self.dropped
            self.seq = max(self.seq, MAX_LINES - 1)
            self.pending.append(DeployLogLine(
                deploy=self.deploy, seq=self.seq + 1, step=self.step,
                text=f"[{dropped} more log lines were left out: the log keeps at most {MAX_LINES} lines]",
            ))
            self.seq += 1
        self.flush()
