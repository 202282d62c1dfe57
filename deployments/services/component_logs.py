"""The components' logs: lines their agents ship are stored (masked already: the agent replaces
the deployment's secret values) and published live; old ones are pruned after
AIRDOCK_COMPONENT_LOG_RETENTION_HOURS, and each deployment keeps at most
AIRDOCK_COMPONENT_LOG_MAX_LINES."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from portal.errors import Invalid

from .. import events
from ..models import LOG_LINE_MAX, ComponentLogLine, Deployment

BATCH_MAX = 2000


def _when(value: object, now: datetime) -> datetime:
    found = parse_datetime(value) if isinstance(value, str) else None
    if found is None or timezone.is_naive(found) or abs(found - now) > timedelta(days=1):
        return now  # no clock, or a wrong one: when it arrived
    return found


def log_lines_store(*, deployment: Deployment, component: str, task_id: str, lines: list) -> int:
    """Store a batch of [time, text] lines of one container; publish them; return how many."""
    now = timezone.now()
    made = []
    for entry in lines[:BATCH_MAX]:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2 or not isinstance(entry[1], str):
            continue
        text = entry[1] if len(entry[1]) <= LOG_LINE_MAX else entry[1][:LOG_LINE_MAX] + " … (cut)"
        made.append(ComponentLogLine(deployment=deployment, component=component[:64], task_id=task_id[:64],
                                     logged_at=_when(entry[0], now), text=text.replace("\x00", "")))
    if not made:
        return 0
    with transaction.atomic():
        stored = ComponentLogLine.objects.bulk_create(made)
        if any(line.id is None for line in stored):  # a database that does not return ids
            stored = list(ComponentLogLine.objects.filter(deployment=deployment, task_id=task_id[:64]).order_by("-id")[:len(made)])[::-1]
        events.component_logs(deployment.pk, stored)
    return len(stored)


def log_lines_prune(now: datetime | None = None) -> int:
    """Drop lines past the retention period, and each deployment's oldest beyond the maximum."""
    now = now or timezone.now()
    removed, _ = ComponentLogLine.objects.filter(
        logged_at__lt=now - timedelta(hours=settings.AIRDOCK_COMPONENT_LOG_RETENTION_HOURS)).delete()
    for deployment_id in ComponentLogLine.objects.values_list("deployment_id", flat=True).distinct():
        keep_from = ComponentLogLine.objects.filter(deployment_id=deployment_id).order_by("-id").values_list(
            "id", flat=True)[settings.AIRDOCK_COMPONENT_LOG_MAX_LINES:settings.AIRDOCK_COMPONENT_LOG_MAX_LINES + 1]
        if keep_from:
            count, _ = ComponentLogLine.objects.filter(deployment_id=deployment_id, id__lte=keep_from[0]).delete()
            removed += count
    return removed


def parse_time(text: str, now: datetime | None = None) -> datetime | None:
    """A time to search logs from or to: ISO 8601 (UTC when no zone is given), or how long ago,
    as `90s`, `15m`, `2h`, `1d`. Blank: None. Anything else: Invalid, saying so."""
    text = (text or "").strip()
    if not text:
        return None
    now = now or timezone.now()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].isdigit():
        return now - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    found = parse_datetime(text.replace(" ", "T"))
    if found is None:
        raise Invalid(f"{text!r} is not a time: give 2026-12-01T14:00 (UTC) or how long ago, as 15m, 2h or 1d.")
    return timezone.make_aware(found, UTC) if timezone.is_naive(found) else found
