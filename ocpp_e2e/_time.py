"""Time helpers: SPEC timestamps and ISO 8601 durations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

SPEC_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")
_DURATION = re.compile(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?")


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_timestamp(when: datetime) -> str:
    """``2026-11-22T10:00:00.000Z`` (UTC, milliseconds), the SPEC §1 timestamp form."""
    when = when.astimezone(UTC)
    return (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:"
        f"{when.second:02d}.{when.microsecond // 1000:03d}Z"
    )


def parse_spec_timestamp(text: str) -> datetime:
    """Parse a SPEC §1 timestamp; ValueError when the form or the date is wrong."""
    if SPEC_TIMESTAMP.fullmatch(text) is None:
        raise ValueError("timestamp must be UTC in the form YYYY-MM-DDTHH:MM:SS[.mmm]Z")
    return datetime.fromisoformat(text)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 date-time with an offset (``Z`` or ``±hh:mm``); ValueError otherwise."""
    if not re.fullmatch(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)", text):
        raise ValueError(f"not an RFC 3339 date-time with a time zone: {text!r}")
    return datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))


def parse_duration(text: str) -> timedelta:
    """Parse ``PTnHnMnS`` (SPEC §7); ValueError otherwise."""
    m = _DURATION.fullmatch(text)
    if m is None or text == "PT":
        raise ValueError(f"not a duration of the form PTnHnMnS: {text!r}")
    hours, minutes, seconds = m.groups()
    return timedelta(hours=int(hours or 0), minutes=int(minutes or 0), seconds=float(seconds or 0))
