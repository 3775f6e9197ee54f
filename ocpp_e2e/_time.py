"""Time helpers: SPEC timestamps and ISO 8601 durations."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

SPEC_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")
_DURATION = re.compile(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?")


class CalendarRangeError(ValueError):
    """A ``PTnHnMnS`` duration of the right form that is longer than a ``timedelta`` can hold
    (999,999,999 days): raised by :func:`parse_duration` only, so that a policy linter can tell
    "too long" from "not a duration". Date-times beyond the calendar (years outside 1..9999 in
    UTC) are plain ValueErrors from :func:`parse_rfc3339`, like any other impossible date.

    >>> parse_duration("PT99999999999999999999H")
    Traceback (most recent call last):
    ...
    ocpp_e2e._time.CalendarRangeError: duration 'PT99999999999999999999H' is beyond the calendar
    """



def format_timestamp(when: datetime) -> str:
    """``2026-11-22T10:00:00.000Z`` (UTC, milliseconds), the SPEC §1 timestamp form."""
    # isoformat ends in "+00:00" for UTC; it writes the year with four digits, as SPEC §1 does.
    return when.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_spec_timestamp(text: str) -> datetime:
    """Parse a SPEC §1 timestamp; ValueError when the form or the date is wrong."""
    if SPEC_TIMESTAMP.fullmatch(text) is None:
        raise ValueError("timestamp must be UTC in the form YYYY-MM-DDTHH:MM:SS[.mmm]Z")
    return datetime.fromisoformat(text)


#: RFC 3339 date-time (§5.6; a space may stand for ``T``, as its note allows), up to nanoseconds.
RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:\d\d)"
)


def utc_of(m: re.Match[str], tz: tzinfo) -> datetime:
    """The UTC time of a match of :data:`RFC3339` (or a pattern with the same eight groups, the
    offset optional: then ``tz`` applies); ValueError for a date or time that does not exist."""
    year, month, day, hour, minute, second, frac, off = m.groups()
    try:
        base = _second(year, month, day, hour, minute, second, off, tz)
    except ValueError as exc:
        raise ValueError(f"{m.group(0)!r} is not a date and time that exists ({exc})") from None
    if not frac:
        return base
    return base + timedelta(microseconds=int(frac[:6].ljust(6, "0")))


@functools.lru_cache(maxsize=4096)
def _second(
    year: str, month: str, day: str, hour: str, minute: str, second: str, off: str | None, tz: tzinfo
) -> datetime:
    """The UTC time of a whole second (log lines repeat their second: cached)."""
    zone: tzinfo
    if off is None:
        zone = tz
    elif off in ("Z", "z"):
        zone = UTC
    else:
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise ValueError(f"offset {off} does not exist")
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    sec = int(second)
    if sec == 60:  # a leap second: RFC 3339 allows it, datetime does not
        sec = 59
    try:
        value = datetime(int(year), int(month), int(day), int(hour), int(minute), sec, tzinfo=zone)
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(str(exc)) from None


def parse_rfc3339(text: str) -> datetime:
    """The one RFC 3339 parser: a date-time with an offset, as an aware UTC datetime; ValueError
    (saying what is wrong) otherwise, also for dates that do not exist.

    >>> parse_rfc3339("2026-03-01T08:00:00.250+01:00").isoformat()
    '2026-03-01T07:00:00.250000+00:00'
    >>> parse_rfc3339("2026-02-30T00:00:00Z")
    Traceback (most recent call last):
    ...
    ValueError: '2026-02-30T00:00:00Z' is not a date and time that exists (day is out of range for month)
    """
    m = RFC3339.fullmatch(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 date-time with offset: {text[:40]!r}")
    if m.group(8) == "Z" and m.group(6) != "60" and text[10] == "T":
        try:
            # the common case, fast: fromisoformat reads exactly what the pattern allowed here
            return datetime.fromisoformat(text)
        except ValueError:
            pass  # an impossible date: utc_of says which
    return utc_of(m, UTC)


def parse_duration(text: str) -> timedelta:
    """Parse ``PTnHnMnS`` (SPEC §7); ValueError otherwise."""
    m = _DURATION.fullmatch(text)
    if m is None or text == "PT":
        raise ValueError(f"not a duration of the form PTnHnMnS: {text!r}")
    hours, minutes, seconds = m.groups()
    try:
        return timedelta(
            hours=int(hours or 0), minutes=int(minutes or 0), seconds=float(seconds or 0)
        )
    except (OverflowError, ValueError):  # thousands of digits, or past 999,999,999 days
        raise CalendarRangeError(f"duration {text!r} is beyond the calendar") from None
