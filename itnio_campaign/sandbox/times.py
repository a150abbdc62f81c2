"""ISO 8601 times as the provider writes and reads them.

>>> from datetime import timedelta, timezone
>>> tz = timezone(timedelta(hours=8))
>>> format_time(0.0, tz)
'1970-01-01T08:00:00+08:00'
>>> parse_time("1970-01-01T08:00:00+08:00", tz), parse_time("1970-01-01 00:00:00Z", tz)
(0.0, 0.0)
>>> parse_time("yesterday", tz) is None
True
"""

from __future__ import annotations

from datetime import datetime, tzinfo


def format_time(epoch: float, tz: tzinfo) -> str:
    """Epoch seconds as ISO 8601 with offset, whole seconds."""
    return datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds")


def parse_time(text: object, tz: tzinfo) -> float | None:
    """ISO 8601 text to epoch seconds (a time without offset is in ``tz``); None if malformed."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.timestamp()
