from datetime import timedelta

from django import template
from django.utils.dateparse import parse_datetime

register = template.Library()


@register.filter
def seconds(value: timedelta | None) -> str:
    """Show a duration the way people read build times: 0.4 s, 12.3 s, 3 min 05 s."""
    if value is None:
        return "—"
    total = value.total_seconds()
    if total < 60:
        return f"{total:.1f} s"
    minutes, rest = divmod(int(total), 60)
    return f"{minutes} min {rest:02d} s"


@register.filter
def iso_datetime(value: str):
    """An ISO 8601 time stamp kept as text (the data plane's JSON) as a datetime, for `timeuntil`."""
    return parse_datetime(value) if value else None
