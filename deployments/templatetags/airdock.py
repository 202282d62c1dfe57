from datetime import timedelta

from django import template

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
