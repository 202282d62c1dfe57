"""A deploy's log: lines saved in batches with a sequence number, so a page can resume from the
last line it has, and packed into compressed chunks once the deploy ends (log_compact). A log
longer than MAX_LINES keeps its head and its tail (where a failure's cause usually is), with one
line saying how many lines were left out between them."""
from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

from django.db import connection, transaction
from django.db.models import Max

from ...models import Deploy, DeployLogChunk, DeployLogLine
from ...models.deploy_log import CHUNK_LINES

MAX_LINE = 4000
MAX_LINES = 50_000
TAIL_LINES = 10_000  # of MAX_LINES, kept from the end of an overlong log
FLUSH_SECONDS = 0.05  # while lines come, one waits at most this long to be stored and published
LONE_LINE_SECONDS = 0.2  # a line followed by silence (pip downloading) is flushed by the log's thread
logger = logging.getLogger(__name__)


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
        self.lock = threading.RLock()  # the writer's thread and the lone-line flusher's
        self.raised: BaseException | None = None  # what on_flush raised in the flusher's thread (Cancelled)
        self._stop: threading.Event | None = None

    def __call__(self, text: str) -> None:
        self.write(text)

    def write(self, text: str) -> None:
        with self.lock:
            if self.raised is not None:
                raised, self.raised = self.raised, None
                raise raised
            self._write(text)

    def _write(self, text: str) -> None:
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
        if len(self.pending) >= 200 or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Store the pending lines, then publish them (a page never sees a line it could not reload)."""
        with self.lock:
            lines = self._store()
            if lines and self.on_flush:
                self.on_flush(lines)

    def _store(self) -> list[DeployLogLine]:
        self.last_flush = time.monotonic()
        lines, self.pending = self.pending, []
        if lines:
            try:
                DeployLogLine.objects.bulk_create(lines)
            except BaseException:
                self.pending[:0] = lines  # kept, in order, for the next flush
                raise
        return lines

    def start_flushing(self) -> None:
        """Flush a line that waits more than LONE_LINE_SECONDS from a thread of the log's own, so a
        line written before a long silence reaches the page at once. Best effort, with its own
        database connection: if the database keeps it waiting (SQLite's write lock held elsewhere)
        it stops, and the writer's next line flushes as it always does. What on_flush raises there
        (the deploy was cancelled) is raised in the writer's thread, at its next line."""
        self._stop = stop = threading.Event()

        def run() -> None:
            try:
                if connection.vendor == "sqlite":
                    with connection.cursor() as cursor:
                        cursor.execute("PRAGMA busy_timeout = 250")
                while not stop.wait(LONE_LINE_SECONDS / 2):
                    if not self.pending or time.monotonic() - self.last_flush < LONE_LINE_SECONDS:
                        continue
                    with self.lock:
                        if stop.is_set():
                            return
                        try:
                            lines = self._store()
                        except Exception as exc:  # noqa: BLE001 - best effort; the writer flushes next
                            logger.info("deploy %s: the log's flusher stops (%s)", self.deploy.pk, exc)
                            return
                        try:
                            if lines and self.on_flush:
                                self.on_flush(lines)
                        except Exception as exc:  # noqa: BLE001 - the writer's to raise
                            self.raised = exc
                            return
            finally:
                connection.close()  # this thread's own

        threading.Thread(target=run, daemon=True, name=f"deploy-{self.deploy.pk}-log").start()

    def stop_flushing(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def close(self) -> None:
        """Stop the flusher; write the tail of an overlong log after a line saying how much was left out."""
        self.stop_flushing()
        with self.lock:
            self._close()

    def _close(self) -> None:
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
