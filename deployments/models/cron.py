"""Five-field cron expressions (minute hour day-of-month month day-of-week), as hibernation
schedules use them: numbers, `*`, lists `a,b`, ranges `a-b` and steps `*/n`, `a-b/n`; day-of-week
0-7 with 0 and 7 both Sunday. Times are UTC. Standard library only."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
EXAMPLE = "0 19 * * 1-5 (19:00 UTC, Monday to Friday)"


class CronError(ValueError):
    pass


def _number(text: str, name: str, low: int, high: int) -> int:
    if not text.isdigit():
        raise CronError(f"{name}: {text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{name}: {value} is outside {low}-{high}")
    return value


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = _number(step_text, name, 1, high) if step_text else 1
        if span == "*":
            start, stop = low, high
        elif "-" in span:
            first, _, last = span.partition("-")
            start, stop = _number(first, name, low, high), _number(last, name, low, high)
            if start > stop:
                raise CronError(f"{name}: the range {span} runs backwards")
        else:
            start = _number(span, name, low, high)
            stop = high if step_text else start
        values.update(range(start, stop + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def matches(self, when: datetime) -> bool:
        if when.minute not in self.minutes or when.hour not in self.hours or when.month not in self.months:
            return False
        day, weekday = when.day in self.days, (when.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:  # as cron does: both restricted means either may match
            return day and weekday
        return day or weekday

    def last_before(self, when: datetime, *, within: timedelta = timedelta(days=8)) -> datetime | None:
        """The latest minute at or before `when` that matches, looking back at most `within`."""
        moment = when.replace(second=0, microsecond=0)
        oldest = moment - within
        while moment >= oldest:
            if self.matches(moment):
                return moment
            moment -= timedelta(minutes=1)
        return None


def parse(text: object) -> Cron:
    if not isinstance(text, str) or len(text.split()) != 5:
        raise CronError(f"give five fields: minute hour day-of-month month day-of-week, for example {EXAMPLE}")
    parts = text.split()
    minutes, hours, days, months, weekdays = (
        _field(part, name, low, high) for part, (name, low, high) in zip(parts, FIELDS, strict=True))
    return Cron(text=" ".join(parts), minutes=minutes, hours=hours, days=days, months=months,
                weekdays=frozenset(d % 7 for d in weekdays), any_day=parts[2] == "*", any_weekday=parts[4] == "*")
