"""The session record the cost calculator bills (see docs/tariffs.md, "Session records").

A session record is plain JSON::

    {"start": "2026-03-02T17:30:00Z", "stop": "2026-03-02T18:30:00Z", "timeZone": "Europe/Berlin",
     "meterStartWh": 1000, "meterStopWh": 21000,
     "meterValues": [{"timestamp": "2026-03-02T18:00:00Z", "wh": 11000}],
     "idlePeriods": [{"start": "2026-03-02T18:20:00Z", "stop": "2026-03-02T18:30:00Z"}],
     "evseKind": "DC", "maxPowerW": 50000, "paymentBrand": "VISA", "paymentRecognition": "CC"}

Times are RFC 3339 with an offset; energies are meter register values in Wh. Everything is held
as exact rationals (:class:`fractions.Fraction`): instants as seconds since the Unix epoch, so
that no float ever takes part in a bill.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..errors import TariffError

__all__ = [
    "MAX_SPAN_DAYS",
    "Session",
    "format_instant",
    "instant",
    "number",
    "parse_time",
    "to_datetime",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d{1,6})?([Zz]|[+-]\d\d:\d\d)")
_MEMBERS = frozenset(
    {
        "start",
        "stop",
        "timeZone",
        "meterStartWh",
        "meterStopWh",
        "meterValues",
        "idlePeriods",
        "evseKind",
        "maxPowerW",
        "paymentBrand",
        "paymentRecognition",
        "reservationStart",
        "reservationStop",
        "meterStartExportWh",
        "meterStopExportWh",
    }
)
#: The longest span (reservation start or session start, to stop) the calculator bills. The work
#: of a bill and its length grow with the local days a session spans (each day may change the
#: price); a session of centuries is an input error, not minutes of work.
MAX_SPAN_DAYS = 92


def number(value: Any, where: str, source: str) -> Fraction:
    """An exact rational from a JSON number (a float stands for its shortest round-trip literal)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TariffError("must be a number", where, source=source)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TariffError("must be a finite number", where, source=source)
        return Fraction(Decimal(repr(value)))
    return Fraction(value)


def instant(dt: datetime) -> Fraction:
    """Seconds since the Unix epoch of an aware datetime, exactly."""
    delta = dt - _EPOCH
    return Fraction(delta.days * 86400 + delta.seconds) + Fraction(delta.microseconds, 10**6)


def to_datetime(t: Fraction, zone: zoneinfo.ZoneInfo | None = None) -> datetime:
    """The datetime of an instant (rounded down to the microsecond), in ``zone`` or UTC."""
    micros = math.floor(t * 10**6)
    dt = _EPOCH + timedelta(microseconds=micros)
    return dt.astimezone(zone) if zone is not None else dt


def format_instant(t: Fraction) -> str:
    """RFC 3339 UTC text of an instant: ``2026-03-02T17:30:00Z`` (microseconds when not whole)."""
    dt = to_datetime(t)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_time(value: Any, where: str, source: str) -> Fraction:
    """Parse an RFC 3339 date-time with an offset into an instant."""
    if not isinstance(value, str) or _RFC3339.fullmatch(value) is None:
        raise TariffError(
            "must be an RFC 3339 date-time with an offset, e.g. 2026-03-02T17:30:00Z",
            where,
            source=source,
        )
    try:
        dt = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise TariffError(f"not a valid date-time ({exc})", where, source=source) from exc
    return instant(dt)


@dataclass(frozen=True)
class Session:
    """A charging session to bill; build it with :meth:`from_dict`.

    ``readings`` are (instant, Wh) pairs including the start and stop readings, in time order;
    ``idle`` the idle periods as (start, stop) instants, in time order, inside the session.
    """

    start: Fraction
    stop: Fraction
    time_zone: str
    zone: zoneinfo.ZoneInfo
    readings: tuple[tuple[Fraction, Fraction], ...]
    idle: tuple[tuple[Fraction, Fraction], ...]
    evse_kind: str | None
    max_power_w: Fraction | None
    payment_brand: str | None
    payment_recognition: str | None
    record: Mapping[str, Any]
    reservation: tuple[Fraction, Fraction] | None = None
    exports: tuple[tuple[Fraction, Fraction], ...] = ()

    @classmethod
    def from_dict(cls, record: Any, *, source: str = "session") -> Session:
        """Check a session record and build a :class:`Session`; errors name the JSON path.

        >>> s = Session.from_dict({"start": "2026-03-02T17:30:00Z", "stop": "2026-03-02T18:09:00Z",
        ...                        "meterStartWh": 0, "meterStopWh": 9999})
        >>> s.stop - s.start
        Fraction(2340, 1)
        """
        if not isinstance(record, Mapping):
            raise TariffError("a session record is a JSON object", "$", source=source)
        unknown = sorted(set(record) - _MEMBERS)
        if unknown:
            raise TariffError(
                f"unknown member(s) {', '.join(unknown)}; known: {', '.join(sorted(_MEMBERS))}",
                "$",
                source=source,
            )
        for name in ("start", "stop", "meterStartWh", "meterStopWh"):
            if name not in record:
                raise TariffError(f"'{name}' is required", "$", source=source)
        start = parse_time(record["start"], "$.start", source)
        stop = parse_time(record["stop"], "$.stop", source)
        if stop <= start:
            raise TariffError("stop must be after start", "$.stop", source=source)
        tz_name = record.get("timeZone", "UTC")
        if not isinstance(tz_name, str):
            raise TariffError("must be an IANA time zone name", "$.timeZone", source=source)
        try:
            zone = zoneinfo.ZoneInfo(tz_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a name too long for a file
            raise TariffError(
                f"unknown IANA time zone {tz_name!r} (e.g. Europe/Berlin, UTC)",
                "$.timeZone",
                source=source,
            ) from exc
        reservation = _reservation(record, start, source)
        first = reservation[0] if reservation is not None else start
        if stop - first > MAX_SPAN_DAYS * 86400:
            raise TariffError(
                f"the session spans {math.ceil((stop - first) / 86400)} days; at most "
                f"{MAX_SPAN_DAYS} days are billed (split a longer session into several)",
                "$.stop",
                source=source,
            )
        idle = _idle_periods(record.get("idlePeriods", []), start, stop, source)
        readings = _readings(record, start, stop, source)
        exports = _exports(record, start, stop, source)
        texts: dict[str, str | None] = {}
        for name in ("evseKind", "paymentBrand", "paymentRecognition"):
            value = record.get(name)
            if value is not None and not isinstance(value, str):
                raise TariffError("must be a string", f"$.{name}", source=source)
            texts[name] = value
        if texts["evseKind"] not in (None, "AC", "DC"):
            raise TariffError("must be AC or DC", "$.evseKind", source=source)
        max_power = record.get("maxPowerW")
        max_power_w = None if max_power is None else number(max_power, "$.maxPowerW", source)
        session = cls(
            start=start,
            stop=stop,
            time_zone=tz_name,
            zone=zone,
            readings=readings,
            idle=idle,
            evse_kind=texts["evseKind"],
            max_power_w=max_power_w,
            payment_brand=texts["paymentBrand"],
            payment_recognition=texts["paymentRecognition"],
            record=record,
            reservation=reservation,
            exports=exports,
        )
        session._check_energy_in_idle(source)
        return session

    # -- time accounting
    # Each look-up is a binary search over tables built once, so billing a record costs
    # O(n log n) in its size: a record of many readings and idle periods stays cheap.

    @functools.cached_property
    def _idle_table(self) -> tuple[list[Fraction], list[Fraction]]:
        starts = [s for s, _ in self.idle]
        before = [Fraction(0)]  # idle seconds before period i
        for s, e in self.idle:
            before.append(before[-1] + (e - s))
        return starts, before

    @functools.cached_property
    def _reading_times(self) -> list[Fraction]:
        return [t for t, _ in self.readings]

    @functools.cached_property
    def _export_times(self) -> list[Fraction]:
        return [t for t, _ in self.exports]

    def idle_before(self, t: Fraction) -> Fraction:
        """Idle seconds between the session start and ``t``."""
        starts, before = self._idle_table
        i = bisect.bisect_left(starts, t)  # periods 0..i-1 start before t
        if i == 0:
            return Fraction(0)
        s, e = self.idle[i - 1]
        return before[i - 1] + (min(e, t) - s)

    def charging_before(self, t: Fraction) -> Fraction:
        """Charging seconds (time outside idle periods) between the session start and ``t``."""
        return (t - self.start) - self.idle_before(t)

    def is_idle(self, t: Fraction) -> bool:
        """True when ``t`` lies in an idle period (periods are half-open ``[start, stop)``)."""
        i = bisect.bisect_right(self._idle_table[0], t) - 1
        return i >= 0 and self.idle[i][0] <= t < self.idle[i][1]

    def charging_intervals(self) -> list[tuple[Fraction, Fraction]]:
        """The session minus its idle periods, in time order."""
        out: list[tuple[Fraction, Fraction]] = []
        cursor = self.start
        for s, e in self.idle:
            if s > cursor:
                out.append((cursor, s))
            cursor = e
        if cursor < self.stop:
            out.append((cursor, self.stop))
        return out

    def when_charged_for(self, seconds: Fraction) -> Fraction | None:
        """The first instant at which ``seconds`` of charging time have passed, or None."""
        return _reach(self.charging_intervals(), seconds)

    def when_idle_for(self, seconds: Fraction) -> Fraction | None:
        """The first instant at which ``seconds`` of idle time have passed, or None."""
        return _reach(list(self.idle), seconds)

    # -- energy

    def energy_at(self, t: Fraction) -> Fraction:
        """Energy (Wh) delivered between the start and ``t``: the meter interpolated linearly in
        charging time between readings (the meter stands still in idle periods)."""
        i = bisect.bisect_right(self._reading_times, t) - 1
        i = max(0, min(i, len(self.readings) - 2))
        (t0, e0), (t1, e1) = self.readings[i], self.readings[i + 1]
        c0, c1, c = self.charging_before(t0), self.charging_before(t1), self.charging_before(t)
        value = e0 if c1 == c0 else e0 + (e1 - e0) * (c - c0) / (c1 - c0)
        return value - self.readings[0][1]

    def exported_at(self, t: Fraction) -> Fraction:
        """Energy (Wh) fed back by the vehicle (discharging) between the start and ``t``: the
        export register interpolated linearly in time between its readings; 0 without one."""
        if not self.exports:
            return Fraction(0)
        i = bisect.bisect_right(self._export_times, t) - 1
        i = max(0, min(i, len(self.exports) - 2))
        (t0, e0), (t1, e1) = self.exports[i], self.exports[i + 1]
        value = e0 if t1 == t0 else e0 + (e1 - e0) * (t - t0) / (t1 - t0)
        return value - self.exports[0][1]

    def when_energy_reaches(self, wh: Fraction) -> Fraction | None:
        """The first instant at which ``wh`` have been delivered since the start, or None."""
        base = self.readings[0][1]
        for (t0, e0), (t1, e1) in itertools.pairwise(self.readings):
            if e0 - base >= wh:
                return t0
            if e1 - base >= wh:
                c0, c1 = self.charging_before(t0), self.charging_before(t1)
                c = c0 + (wh + base - e0) * (c1 - c0) / (e1 - e0)
                return self.when_charged_for(c)
        return None

    def _check_energy_in_idle(self, source: str) -> None:
        for (t0, e0), (t1, e1) in itertools.pairwise(self.readings):
            if e1 > e0 and self.charging_before(t1) == self.charging_before(t0):
                raise TariffError(
                    f"the meter rose by {e1 - e0} Wh between {format_instant(t0)} and "
                    f"{format_instant(t1)}, which lie in idle periods (no charging)",
                    "$.meterValues",
                    source=source,
                )


def _reach(intervals: Sequence[tuple[Fraction, Fraction]], seconds: Fraction) -> Fraction | None:
    acc = Fraction(0)
    for s, e in intervals:
        if acc + (e - s) >= seconds:
            return s + (seconds - acc)
        acc += e - s
    return None


def _reservation(
    record: Mapping[str, Any], start: Fraction, source: str
) -> tuple[Fraction, Fraction] | None:
    # OCPP 2.1 reservationTime: "A reservation starts when the reservation is made, and ends when
    # the driver starts charging on the reserved EVSE/location, or when the reservation expires."
    has = ("reservationStart" in record, "reservationStop" in record)
    if not any(has):
        return None
    if not all(has):
        raise TariffError(
            "reservationStart and reservationStop go together", "$.reservationStart", source=source
        )
    r0 = parse_time(record["reservationStart"], "$.reservationStart", source)
    r1 = parse_time(record["reservationStop"], "$.reservationStop", source)
    if not r0 < r1 <= start:
        raise TariffError(
            "the reservation must start before it stops, and stop at or before the session start",
            "$.reservationStop",
            source=source,
        )
    return r0, r1


def _idle_periods(
    value: Any, start: Fraction, stop: Fraction, source: str
) -> tuple[tuple[Fraction, Fraction], ...]:
    if not isinstance(value, list):
        raise TariffError("must be a list of {start, stop}", "$.idlePeriods", source=source)
    out: list[tuple[Fraction, Fraction]] = []
    for i, item in enumerate(value):
        where = f"$.idlePeriods[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"start", "stop"}:
            raise TariffError("must be an object with exactly start and stop", where, source=source)
        s = parse_time(item["start"], f"{where}.start", source)
        e = parse_time(item["stop"], f"{where}.stop", source)
        if not start <= s < e <= stop:
            raise TariffError(
                "must lie inside the session, with start before stop", where, source=source
            )
        if out and s < out[-1][1]:
            raise TariffError(
                "idle periods must be in time order and must not overlap", where, source=source
            )
        out.append((s, e))
    return tuple(out)


def _exports(
    record: Mapping[str, Any], start: Fraction, stop: Fraction, source: str
) -> tuple[tuple[Fraction, Fraction], ...]:
    # The export register (energy the vehicle fed back, OCPP Energy.Active.Export.Register):
    # start and stop readings, and an exportWh beside any meter value that has one.
    has = ("meterStartExportWh" in record, "meterStopExportWh" in record)
    if not any(has):
        for i, item in enumerate(record.get("meterValues") or []):
            if isinstance(item, Mapping) and "exportWh" in item:
                raise TariffError(
                    "exportWh needs meterStartExportWh and meterStopExportWh",
                    f"$.meterValues[{i}].exportWh",
                    source=source,
                )
        return ()
    if not all(has):
        raise TariffError(
            "meterStartExportWh and meterStopExportWh go together",
            "$.meterStartExportWh",
            source=source,
        )
    points = [(start, number(record["meterStartExportWh"], "$.meterStartExportWh", source))]
    for i, item in enumerate(record.get("meterValues") or []):
        if isinstance(item, Mapping) and "exportWh" in item:
            where = f"$.meterValues[{i}]"
            t = parse_time(item["timestamp"], f"{where}.timestamp", source)
            wh = number(item["exportWh"], f"{where}.exportWh", source)
            if t == points[-1][0]:
                continue
            if wh < points[-1][1]:
                raise TariffError(
                    "the export register must not run backwards", f"{where}.exportWh", source=source
                )
            points.append((t, wh))
    last = number(record["meterStopExportWh"], "$.meterStopExportWh", source)
    if last < points[-1][1]:
        raise TariffError(
            "must not be below an earlier export reading", "$.meterStopExportWh", source=source
        )
    if points[-1][0] != stop:
        points.append((stop, last))
    return tuple(points)


def _readings(
    record: Mapping[str, Any], start: Fraction, stop: Fraction, source: str
) -> tuple[tuple[Fraction, Fraction], ...]:
    first = number(record["meterStartWh"], "$.meterStartWh", source)
    last = number(record["meterStopWh"], "$.meterStopWh", source)
    points = [(start, first)]
    values = record.get("meterValues", [])
    if not isinstance(values, list):
        raise TariffError("must be a list of {timestamp, wh}", "$.meterValues", source=source)
    for i, item in enumerate(values):
        where = f"$.meterValues[{i}]"
        if not isinstance(item, Mapping) or not (
            {"timestamp", "wh"} <= set(item) <= {"timestamp", "wh", "exportWh"}
        ):
            raise TariffError(
                "must be an object with timestamp and wh (and exportWh)", where, source=source
            )
        t = parse_time(item["timestamp"], f"{where}.timestamp", source)
        wh = number(item["wh"], f"{where}.wh", source)
        if not start <= t <= stop:
            raise TariffError("must lie inside the session", f"{where}.timestamp", source=source)
        if t == points[-1][0]:
            if wh != points[-1][1]:
                raise TariffError("two readings at one instant differ", where, source=source)
            continue
        if t < points[-1][0]:
            raise TariffError(
                "meter values must be in time order", f"{where}.timestamp", source=source
            )
        if wh < points[-1][1]:
            raise TariffError(
                "the meter must not run backwards (discharging is not billed by this calculator)",
                f"{where}.wh",
                source=source,
            )
        points.append((t, wh))
    if points[-1][0] == stop:
        if points[-1][1] != last:
            raise TariffError(
                "a reading at the stop instant differs from meterStopWh",
                "$.meterStopWh",
                source=source,
            )
    else:
        if last < points[-1][1]:
            raise TariffError(
                "must not be below an earlier reading", "$.meterStopWh", source=source
            )
        points.append((stop, last))
    return tuple(points)
