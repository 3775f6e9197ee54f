"""The cost calculator: what a session costs under an OCPP 2.1 tariff, line by line, exactly.

The semantics (OCPP 2.1 where it speaks, this project's documented reading where it is silent)
are in docs/tariffs.md; the short form:

- Per dimension (fixed fee, energy, charging time, idle time) the first price whose conditions
  hold applies. The fixed fee is decided once, at the session start; the other dimensions are
  decided per period: the session is cut wherever a condition can change (local midnights and
  times of day, DST changes, meter readings, idle periods, the instants at which a duration or
  energy threshold is reached) and each period is billed at the price that holds at its start.
- All periods billed at one price make one line; the project's ``stepSize`` extension rounds the
  line's quantity up; taxes apply per ``stack`` level; ``minCost``/``maxCost`` clamp the total.
- Arithmetic is exact (rationals); results are decimal strings. The total is also given rounded
  half up to the currency's ISO 4217 minor unit.

>>> tariff = {"tariffId": "per-minute", "currency": "EUR", "chargingTime": {
...     "prices": [{"priceMinute": 6.5,
...                 "customData": {"vendorId": "org.ocpp-e2e", "stepSize": 900}}],
...     "taxRates": [{"type": "VAT", "tax": 19}]}}
>>> session = {"start": "2026-03-02T10:00:00Z", "stop": "2026-03-02T10:39:00Z",
...            "meterStartWh": 0, "meterStopWh": 0}
>>> result = calculate_cost(tariff, session)
>>> result.to_dict()["totalInclTax"], result.to_dict()["rounded"]["inclTax"]
('348.075', '348.08')
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

from ..errors import TariffError
from .schema import validate_tariff
from .session import Session, format_instant, instant, number, parse_time, to_datetime

__all__ = [
    "DIMENSIONS",
    "MINOR_UNITS",
    "VENDOR_ID",
    "CostLine",
    "CostResult",
    "Period",
    "TaxAmount",
    "apply_taxes",
    "calculate_cost",
    "decimal_text",
    "discharging_price",
    "explain",
    "minor_unit",
    "round_half_up",
]

#: This project's vendor id in ``customData`` (step sizes, signature carrier).
VENDOR_ID = "org.ocpp-e2e"

#: ISO 4217 minor units (digits after the decimal point) of the currencies this calculator bills.
#: Source: the ISO 4217 list maintained by SIX (table A.1, "Minor unit").
MINOR_UNITS: Mapping[str, int] = {
    "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "CZK": 2,
    "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0,
    "KRW": 0, "KWD": 3, "MXN": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PLN": 2, "RON": 2, "SEK": 2,
    "SGD": 2, "TND": 3, "TRY": 2, "USD": 2, "ZAR": 2,
}  # fmt: skip

#: Dimensions in output order: every priced member of the OCPP 2.1 TariffType.
DIMENSIONS = (
    "reservationFixed", "reservationTime", "fixedFee", "energy", "chargingTime", "idleTime"
)  # fmt: skip
_UNITS = {"fixedFee": "session", "energy": "Wh", "chargingTime": "s", "idleTime": "s",
          "reservationFixed": "reservation", "reservationTime": "s"}  # fmt: skip
_PRICE_UNITS = {
    "fixedFee": "per session", "energy": "per kWh", "chargingTime": "per minute",
    "idleTime": "per minute", "minCost": "total", "maxCost": "total",
    "reservationFixed": "per reservation", "reservationTime": "per minute",
}  # fmt: skip
_PRICE_MEMBER = {
    "fixedFee": "priceFixed",
    "energy": "priceKwh",
    "chargingTime": "priceMinute",
    "idleTime": "priceMinute",
    "reservationFixed": "priceFixed",
    "reservationTime": "priceMinute",
}
# A price per kWh applies to Wh / 1000, a price per minute to seconds / 60.
_PER = {
    "fixedFee": Fraction(1),
    "energy": Fraction(1, 1000),
    "chargingTime": Fraction(1, 60),
    "idleTime": Fraction(1, 60),
    "reservationFixed": Fraction(1),
    "reservationTime": Fraction(1, 60),
}
# What a reservationTime price may be conditioned on: the calendar, the EVSE kind and the
# reservation's own duration (minTime/maxTime). Energy, power, charging and idle time do not exist
# before charging starts, so such a condition is refused rather than read as always false.
_RESERVATION_CONDITIONS = frozenset(
    {"startTimeOfDay", "endTimeOfDay", "dayOfWeek", "validFromDate", "validToDate", "evseKind",
     "minTime", "maxTime", "customData"}
)  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_DATE = re.compile(r"[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
# Places used for a value that has no finite decimal expansion (e.g. 1/3 of a cent).
_INEXACT_PLACES = 12


def minor_unit(currency: str) -> int:
    """The ISO 4217 minor unit of ``currency``; :class:`TariffError` for one not in the table.

    >>> minor_unit("EUR"), minor_unit("JPY"), minor_unit("KWD")
    (2, 0, 3)
    """
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise TariffError(
            f"currency {currency!r} is not supported (known: {', '.join(sorted(MINOR_UNITS))})",
            "$.currency",
            source="tariff",
        ) from None


# --------------------------------------------------------------------------- exact decimals


def decimal_text(value: Fraction, min_places: int = 0) -> tuple[str, bool]:
    """Decimal text of a rational, exact when it has a finite expansion; returns (text, exact).

    A value without a finite expansion is rounded half up to 12 places and reported inexact.

    >>> decimal_text(Fraction(5851, 20), 2)
    ('292.55', True)
    >>> decimal_text(Fraction(51, 10), 2)
    ('5.10', True)
    >>> decimal_text(Fraction(1, 3))
    ('0.333333333333', False)
    """
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    exact = den == 1
    places = max(twos, fives, min_places) if exact else max(_INEXACT_PLACES, min_places)
    scaled = round_half_up(value, places)
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    text = digits if places == 0 else f"{digits[:-places]}.{digits[-places:]}"
    return sign + text, exact


def round_half_up(value: Fraction, places: int) -> int:
    """``value`` × 10^places rounded half away from zero, as an integer."""
    scaled = value * 10**places
    magnitude: int = math.floor(abs(scaled) + Fraction(1, 2))
    return magnitude if scaled >= 0 else -magnitude


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TaxAmount:
    """One tax of a line: the ``TaxRateType`` that applied and the amount it adds."""

    type: str
    rate: Fraction
    stack: int
    amount: Fraction


@dataclass(frozen=True)
class Period:
    """A stretch of the session billed at a line's price, with its (unrounded) quantity."""

    start: Fraction
    stop: Fraction
    quantity: Fraction


@dataclass(frozen=True)
class CostLine:
    """One line of a bill.

    ``dimension`` is ``fixedFee``, ``energy``, ``chargingTime``, ``idleTime`` or, for a clamp,
    ``minCost``/``maxCost``. ``price_index`` is the index in the dimension's ``prices`` list.
    Quantities are in ``unit`` (Wh, s, session); ``billed_quantity`` is after ``stepSize``.
    """

    dimension: str
    price_index: int | None
    price: Fraction
    unit: str
    conditions: Mapping[str, Any]
    why: str
    quantity: Fraction | None
    step_size: Fraction | None
    billed_quantity: Fraction | None
    excl_tax: Fraction
    taxes: tuple[TaxAmount, ...]
    periods: tuple[Period, ...] = ()

    @property
    def incl_tax(self) -> Fraction:
        """The amount including every tax of the line."""
        return self.excl_tax + sum((t.amount for t in self.taxes), Fraction(0))


@dataclass(frozen=True)
class CostResult:
    """A bill: the lines, the exact totals and the totals rounded to the currency's minor unit."""

    tariff_id: str
    currency: str
    minor_unit: int
    time_zone: str
    start: Fraction
    stop: Fraction
    energy_wh: Fraction
    charging_seconds: Fraction
    idle_seconds: Fraction
    lines: tuple[CostLine, ...]
    notes: tuple[str, ...] = field(default=())
    exported_wh: Fraction | None = None

    @property
    def total_excl_tax(self) -> Fraction:
        """Exact total excluding taxes (after any minCost/maxCost clamp)."""
        return sum((line.excl_tax for line in self.lines), Fraction(0))

    @property
    def total_incl_tax(self) -> Fraction:
        """Exact total including taxes (after any minCost/maxCost clamp)."""
        return sum((line.incl_tax for line in self.lines), Fraction(0))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (every number an exact decimal string), as ``tariff cost --json`` shows."""
        m = self.minor_unit
        inexact: list[str] = []

        def money(value: Fraction, where: str) -> str:
            text, exact = decimal_text(value, m)
            if not exact:
                inexact.append(where)
            return text

        def qty(value: Fraction, where: str) -> str:
            text, exact = decimal_text(value)
            if not exact:
                inexact.append(where)
            return text

        lines = []
        for i, line in enumerate(self.lines):
            w = f"lines[{i}]"
            item: dict[str, Any] = {
                "dimension": line.dimension,
                "priceIndex": line.price_index,
                "price": qty(line.price, f"{w}.price"),
                "priceUnit": _PRICE_UNITS[line.dimension],
                "conditions": dict(line.conditions),
                "why": line.why,
            }
            if line.quantity is not None and line.billed_quantity is not None:
                item["quantity"] = qty(line.quantity, f"{w}.quantity")
                item["quantityUnit"] = line.unit
                item["stepSize"] = (
                    None if line.step_size is None else qty(line.step_size, f"{w}.stepSize")
                )
                item["billedQuantity"] = qty(line.billed_quantity, f"{w}.billedQuantity")
            item["exclTax"] = money(line.excl_tax, f"{w}.exclTax")
            item["taxes"] = [
                {
                    "type": t.type,
                    "tax": qty(t.rate, f"{w}.taxes"),
                    "stack": t.stack,
                    "amount": money(t.amount, f"{w}.taxes"),
                }
                for t in line.taxes
            ]
            item["inclTax"] = money(line.incl_tax, f"{w}.inclTax")
            if line.periods:
                item["periods"] = [
                    {
                        "start": format_instant(p.start),
                        "stop": format_instant(p.stop),
                        "quantity": qty(p.quantity, f"{w}.periods"),
                    }
                    for p in line.periods
                ]
            lines.append(item)
        out: dict[str, Any] = {
            "tariffId": self.tariff_id,
            "currency": self.currency,
            "timeZone": self.time_zone,
            "session": {
                "start": format_instant(self.start),
                "stop": format_instant(self.stop),
                "durationSeconds": qty(self.stop - self.start, "session"),
                "chargingSeconds": qty(self.charging_seconds, "session"),
                "idleSeconds": qty(self.idle_seconds, "session"),
                "energyWh": qty(self.energy_wh, "session"),
                **(
                    {"exportedWh": qty(self.exported_wh, "session")}
                    if self.exported_wh is not None
                    else {}
                ),
            },
            "lines": lines,
            "totalExclTax": money(self.total_excl_tax, "totalExclTax"),
            "totalInclTax": money(self.total_incl_tax, "totalInclTax"),
            "rounded": {
                "minorUnit": m,
                "exclTax": decimal_text(Fraction(round_half_up(self.total_excl_tax, m), 10**m), m)[
                    0
                ],
                "inclTax": decimal_text(Fraction(round_half_up(self.total_incl_tax, m), 10**m), m)[
                    0
                ],
            },
            "notes": list(self.notes),
        }
        out["inexact"] = sorted(set(inexact))
        return out


# --------------------------------------------------------------------------- tariff parts


@dataclass(frozen=True)
class _Price:
    dimension: str
    index: int
    price: Fraction
    conditions: Mapping[str, Any]
    step: Fraction | None
    where: str


def _prices(tariff: Mapping[str, Any], dimension: str) -> list[_Price]:
    part = tariff.get(dimension)
    if part is None:
        return []
    out = []
    for i, raw in enumerate(part["prices"]):
        where = f"$.{dimension}.prices[{i}]"
        price = number(
            raw[_PRICE_MEMBER[dimension]], f"{where}.{_PRICE_MEMBER[dimension]}", "tariff"
        )
        conditions = raw.get("conditions", {})
        _check_conditions(conditions, f"{where}.conditions")
        out.append(_Price(dimension, i, price, conditions, _step(raw, dimension, where), where))
    return out


def _step(raw: Mapping[str, Any], dimension: str, where: str) -> Fraction | None:
    custom = raw.get("customData")
    if (
        not isinstance(custom, Mapping)
        or custom.get("vendorId") != VENDOR_ID
        or "stepSize" not in custom
    ):
        return None
    place = f"{where}.customData.stepSize"
    if dimension in ("fixedFee", "reservationFixed"):
        raise TariffError(
            "stepSize applies to energy and time prices, not to a fixed fee", place, source="tariff"
        )
    step = number(custom["stepSize"], place, "tariff")
    if step <= 0:
        raise TariffError(
            "stepSize must be positive (Wh for energy, seconds for time)", place, source="tariff"
        )
    return step


def _check_conditions(conditions: Mapping[str, Any], where: str) -> None:
    for name in ("startTimeOfDay", "endTimeOfDay"):
        value = conditions.get(name)
        if value is not None and _TIME_OF_DAY.fullmatch(value) is None:
            raise TariffError(
                "must be a time of day HH:MM (00:00 to 23:59)", f"{where}.{name}", source="tariff"
            )
    for name in ("validFromDate", "validToDate"):
        value = conditions.get(name)
        if value is not None:
            try:
                if _DATE.fullmatch(value) is None:
                    raise ValueError(value)
                date.fromisoformat(value)
            except ValueError:
                raise TariffError(
                    "must be a date YYYY-MM-DD", f"{where}.{name}", source="tariff"
                ) from None
    for name in ("minCurrent", "maxCurrent"):
        if name in conditions:
            raise TariffError(
                "current conditions cannot be evaluated: a session record carries no currents",
                f"{where}.{name}",
                source="tariff",
            )


def _tod(text: str) -> time:
    return time(int(text[:2]), int(text[3:]))


# --------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class _State:
    """What the conditions of a price can look at, at the start of a period."""

    local: datetime
    elapsed: Fraction
    charging: Fraction
    idle: Fraction
    energy: Fraction
    power: Fraction


def _time_window_holds(conditions: Mapping[str, Any], now: time) -> bool:
    start = conditions.get("startTimeOfDay")
    end = conditions.get("endTimeOfDay")
    if start is None and end is None:
        return True
    s = _tod(start) if start is not None else time(0, 0)
    e = _tod(end) if end is not None else None
    if e is None or e == time(0, 0):  # absent end, or "00:00": until the end of the day
        return now >= s
    if e > s:
        return s <= now < e
    return now >= s or now < e  # end before (or equal to) start: wraps past midnight


def _calendar_holds(conditions: Mapping[str, Any], local: datetime) -> bool:
    if not _time_window_holds(conditions, local.time()):
        return False
    days = conditions.get("dayOfWeek")
    if days is not None and _DAYS[local.weekday()] not in days:
        return False
    today = local.date()
    valid_from = conditions.get("validFromDate")
    if valid_from is not None and today < date.fromisoformat(valid_from):
        return False
    valid_to = conditions.get("validToDate")
    return valid_to is None or today < date.fromisoformat(valid_to)


def _range_holds(conditions: Mapping[str, Any], low: str, high: str, value: Fraction) -> bool:
    """OCPP 2.1: negative bounds describe discharging, and there "min" is the bound closest to
    zero and "max" the one furthest from it; so compare magnitudes, in one direction only."""
    lo = None if conditions.get(low) is None else number(conditions[low], low, "tariff")
    hi = None if conditions.get(high) is None else number(conditions[high], high, "tariff")
    if lo is None and hi is None:
        return True
    reverse = any(b is not None and b < 0 for b in (lo, hi))
    if value != 0 and (value < 0) != reverse:
        return False  # a charging range never holds while discharging, and the reverse
    if lo is not None and abs(value) < abs(lo):
        return False
    return hi is None or abs(value) < abs(hi)


def discharging_price(conditions: Mapping[str, Any]) -> bool:
    """True when a price's conditions name a discharging range (a negative energy or power
    bound, OCPP 2.1 TariffConditionsType); only such prices bill energy fed back."""
    return any(
        conditions.get(k) is not None and number(conditions[k], k, "tariff") < 0
        for k in ("minEnergy", "maxEnergy", "minPower", "maxPower")
    )


def _holds(conditions: Mapping[str, Any], state: _State, session: Session) -> bool:
    kind = conditions.get("evseKind")
    if kind is not None and kind != session.evse_kind:
        return False
    return (
        _calendar_holds(conditions, state.local)
        and _range_holds(conditions, "minEnergy", "maxEnergy", state.energy)
        and _range_holds(conditions, "minPower", "maxPower", state.power)
        and _range_holds(conditions, "minTime", "maxTime", state.elapsed)
        and _range_holds(conditions, "minChargingTime", "maxChargingTime", state.charging)
        and _range_holds(conditions, "minIdleTime", "maxIdleTime", state.idle)
    )


def _fixed_holds(
    conditions: Mapping[str, Any], session: Session, at: Fraction | None = None
) -> bool:
    local = to_datetime(session.start if at is None else at, session.zone)
    if not _calendar_holds(conditions, local):
        return False
    for name, have in (
        ("evseKind", session.evse_kind),
        ("paymentBrand", session.payment_brand),
        ("paymentRecognition", session.payment_recognition),
    ):
        want = conditions.get(name)
        if want is not None and want != have:
            return False
    return True


def explain(conditions: Mapping[str, Any]) -> str:
    """A one-line reading of a price's conditions (``why`` a price applied).

    >>> explain({"startTimeOfDay": "18:00", "endTimeOfDay": "07:00", "dayOfWeek": ["Saturday"]})
    'local time 18:00–07:00 (next day); on Saturday'
    >>> explain({})
    'no conditions'
    """
    parts: list[str] = []
    start, end = conditions.get("startTimeOfDay"), conditions.get("endTimeOfDay")
    if start is not None or end is not None:
        s, e = start or "00:00", end or "24:00"
        wraps = end is not None and end != "00:00" and e <= s
        parts.append(
            f"local time {s}–{'24:00' if e == '00:00' else e}{' (next day)' if wraps else ''}"
        )
    if "dayOfWeek" in conditions:
        parts.append("on " + "/".join(conditions["dayOfWeek"]))
    if "validFromDate" in conditions:
        parts.append(f"from {conditions['validFromDate']}")
    if "validToDate" in conditions:
        parts.append(f"before {conditions['validToDate']}")
    for low, high, unit, label in (
        ("minEnergy", "maxEnergy", "Wh", "energy delivered"),
        ("minPower", "maxPower", "W", "power"),
        ("minTime", "maxTime", "s", "session time"),
        ("minChargingTime", "maxChargingTime", "s", "charging time"),
        ("minIdleTime", "maxIdleTime", "s", "idle time"),
    ):
        lo, hi = conditions.get(low), conditions.get(high)
        if any(isinstance(b, int | float) and b < 0 for b in (lo, hi)):
            # Discharging range (OCPP 2.1: negative, min closest to zero): say it in magnitudes.
            label = f"{label} fed back" if label.startswith("energy") else f"discharging {label}"
            lo = None if lo is None else abs(lo)
            hi = None if hi is None else abs(hi)
        if lo is not None and hi is not None:
            parts.append(f"{lo} {unit} ≤ {label} < {hi} {unit}")
        elif lo is not None:
            parts.append(f"{label} ≥ {lo} {unit}")
        elif hi is not None:
            parts.append(f"{label} < {hi} {unit}")
    for name in ("evseKind", "paymentBrand", "paymentRecognition"):
        if name in conditions:
            parts.append(f"{name} {conditions[name]}")
    return "; ".join(parts) if parts else "no conditions"


# --------------------------------------------------------------------------- cutting the session


def _local_cuts(
    lo: Fraction, hi: Fraction, zone: zoneinfo.ZoneInfo, times_of_day: Iterable[str]
) -> set[Fraction]:
    """Instants at which the local calendar state can change: midnights, times of day, DST.

    The work grows with the days between ``lo`` and ``hi``, which :class:`Session` bounds
    (``MAX_SPAN_DAYS``).
    """
    first = to_datetime(lo, zone).date() - timedelta(days=1)
    last = to_datetime(hi, zone).date() + timedelta(days=1)
    marks = {time(0, 0)} | {_tod(t) for t in times_of_day}
    cuts: set[Fraction] = set()
    day = first
    while day <= last:
        for mark in marks:
            for fold in (0, 1):
                cuts.add(instant(datetime.combine(day, mark, zone).replace(fold=fold)))
        cuts |= _offset_change(day, zone)
        day += timedelta(days=1)
    return cuts


def _offset_change(day: date, zone: zoneinfo.ZoneInfo) -> set[Fraction]:
    """The instant within ``day`` (local) at which the UTC offset changes, if it does."""
    lo = instant(datetime.combine(day, time(0, 0), zone))
    hi = instant(datetime.combine(day + timedelta(days=1), time(0, 0), zone))

    def offset(t: Fraction) -> timedelta | None:
        return to_datetime(t, zone).utcoffset()

    if offset(lo) == offset(hi):
        return set()
    lo_i, hi_i = int(lo), int(hi)  # whole seconds: zone transitions fall on whole seconds
    before = offset(Fraction(lo_i))
    while hi_i - lo_i > 1:
        mid = (lo_i + hi_i) // 2
        if offset(Fraction(mid)) == before:
            lo_i = mid
        else:
            hi_i = mid
    return {Fraction(hi_i)}


def _cuts(session: Session, prices: Sequence[_Price]) -> list[Fraction]:
    cuts: set[Fraction] = {session.start, session.stop}
    cuts |= {t for t, _ in session.readings}
    cuts |= {t for t, _ in session.exports}
    for s, e in session.idle:
        cuts |= {s, e}
    times_of_day: set[str] = set()
    for p in prices:
        c = p.conditions
        times_of_day |= {c[k] for k in ("startTimeOfDay", "endTimeOfDay") if k in c}
        for k in ("minTime", "maxTime"):
            if k in c:
                cuts.add(session.start + number(c[k], k, "tariff"))
        for k in ("minChargingTime", "maxChargingTime"):
            if k in c:
                cuts.add(session.when_charged_for(number(c[k], k, "tariff")) or session.stop)
        for k in ("minIdleTime", "maxIdleTime"):
            if k in c:
                cuts.add(session.when_idle_for(number(c[k], k, "tariff")) or session.stop)
        for k in ("minEnergy", "maxEnergy"):
            if k in c:
                cuts.add(session.when_energy_reaches(number(c[k], k, "tariff")) or session.stop)
    cuts |= _local_cuts(session.start, session.stop, session.zone, times_of_day)
    return sorted(t for t in cuts if session.start <= t <= session.stop)


# --------------------------------------------------------------------------- taxes and lines


def _tax_rates(tariff: Mapping[str, Any], member: str) -> list[Mapping[str, Any]]:
    part = tariff.get(member)
    return list(part.get("taxRates", [])) if isinstance(part, Mapping) else []


def apply_taxes(net: Fraction, rates: Sequence[Mapping[str, Any]]) -> tuple[TaxAmount, ...]:
    """Taxes on ``net`` per OCPP 2.1 ``TaxRateType.stack``: stack 0 is on the net amount, stack n
    on the net amount plus every tax of the stacks below n.

    >>> [t.amount for t in apply_taxes(Fraction(100), [{"type": "A", "tax": 10},
    ...                                                 {"type": "B", "tax": 5, "stack": 1}])]
    [Fraction(10, 1), Fraction(11, 2)]
    """
    out: list[TaxAmount] = []
    levels = sorted({int(r.get("stack", 0)) for r in rates})
    below = Fraction(0)
    for level in levels:
        base = net + below
        added = Fraction(0)
        for rate in rates:
            if int(rate.get("stack", 0)) != level:
                continue
            percent = number(rate["tax"], "tax", "tariff")
            amount = base * percent / 100
            out.append(TaxAmount(str(rate["type"]), percent, level, amount))
            added += amount
        below += added
    return tuple(out)  # in stack order, ties in tariff order


def _gross_factor(rates: Sequence[Mapping[str, Any]]) -> Fraction:
    """Incl./excl. ratio of the rates (taxes on 1 net unit, plus 1)."""
    return 1 + sum((t.amount for t in apply_taxes(Fraction(1), rates)), Fraction(0))


def _billed(quantity: Fraction, step: Fraction | None) -> Fraction:
    # Steps round the magnitude up: more energy billed, or more fed-back energy credited.
    if step is None or quantity == 0:
        return quantity
    sign = 1 if quantity > 0 else -1
    return sign * math.ceil(abs(quantity) / step) * step


def _first(prices: Sequence[_Price], holds: Callable[[Mapping[str, Any]], bool]) -> _Price | None:
    for p in prices:
        if holds(p.conditions):
            return p
    return None


def calculate_cost(tariff: Mapping[str, Any], session: Mapping[str, Any] | Session) -> CostResult:
    """Bill ``session`` (a record or a :class:`Session`) under ``tariff`` (an OCPP 2.1 TariffType).

    Raises :class:`TariffError` for a tariff that is not a valid TariffType, an unknown currency,
    a session that starts before the tariff's ``validFrom``, or a bad session record.
    """
    validate_tariff(tariff)
    sess = session if isinstance(session, Session) else Session.from_dict(session)
    currency = tariff["currency"]
    places = minor_unit(currency)
    notes: list[str] = []
    if "validFrom" in tariff and sess.start < parse_time(
        tariff["validFrom"], "$.validFrom", "tariff"
    ):
        raise TariffError(
            f"the session starts at {format_instant(sess.start)}, before the tariff is valid",
            "$.validFrom",
            source="tariff",
        )
    priced = {d: _prices(tariff, d) for d in DIMENSIONS}
    lines: list[CostLine] = []
    if sess.reservation is None:
        for member in ("reservationTime", "reservationFixed"):
            if priced[member]:
                notes.append(f"{member} is not billed: the session record has no reservation")
    else:
        lines += _reservation_lines(tariff, sess, priced)

    fixed = _first(priced["fixedFee"], functools.partial(_fixed_holds, session=sess))
    if fixed is not None:
        net = fixed.price
        lines.append(
            CostLine("fixedFee", fixed.index, fixed.price, _UNITS["fixedFee"], fixed.conditions,
                     explain(fixed.conditions), Fraction(1), None, Fraction(1), net,
                     apply_taxes(net, _tax_rates(tariff, "fixedFee")))
        )  # fmt: skip

    timed = [p for d in ("energy", "chargingTime", "idleTime") for p in priced[d]]
    cuts = _cuts(sess, timed)
    collected: dict[tuple[str, int], list[Period]] = {}
    for t0, t1 in itertools.pairwise(cuts):
        e0, e1 = sess.energy_at(t0), sess.energy_at(t1)
        power = (e1 - e0) * 3600 / (t1 - t0)
        if sess.max_power_w is not None and power > sess.max_power_w:
            raise TariffError(
                f"the meter readings imply {decimal_text(power)[0]} W from {format_instant(t0)} to "
                f"{format_instant(t1)}, above maxPowerW",
                "$.maxPowerW",
                source="session",
            )
        state = _State(
            local=to_datetime(t0, sess.zone),
            elapsed=t0 - sess.start,
            charging=sess.charging_before(t0),
            idle=sess.idle_before(t0),
            energy=e0,
            power=power,
        )
        idle = sess.is_idle(t0)
        quantities = {"energy": e1 - e0, "chargingTime": Fraction(0) if idle else t1 - t0,
                      "idleTime": t1 - t0 if idle else Fraction(0)}  # fmt: skip
        for dimension, quantity in quantities.items():
            if quantity == 0:
                continue
            candidates = priced[dimension]
            if dimension == "energy":
                candidates = [p for p in candidates if not discharging_price(p.conditions)]
            price = _first(candidates, functools.partial(_holds, state=state, session=sess))
            if price is not None:
                collected.setdefault((dimension, price.index), []).append(Period(t0, t1, quantity))
        x0, x1 = sess.exported_at(t0), sess.exported_at(t1)
        if x1 > x0:
            back = replace(state, energy=-x0, power=-(x1 - x0) * 3600 / (t1 - t0))
            reverse = [p for p in priced["energy"] if discharging_price(p.conditions)]
            price = _first(reverse, functools.partial(_holds, state=back, session=sess))
            if price is not None:
                collected.setdefault(("energy", price.index), []).append(Period(t0, t1, -(x1 - x0)))
            elif priced["energy"]:
                raise TariffError(
                    f"the vehicle fed back {decimal_text(x1 - x0)[0]} Wh from "
                    f"{format_instant(t0)} to {format_instant(t1)} and no energy price covers "
                    "discharging then (OCPP 2.1: a price whose minPower/maxPower or "
                    "minEnergy/maxEnergy are negative)",
                    "$.energy",
                    source="tariff",
                )

    for dimension in ("energy", "chargingTime", "idleTime"):
        for p in priced[dimension]:
            periods = collected.get((dimension, p.index))
            if not periods:
                continue
            quantity = sum((x.quantity for x in periods), Fraction(0))
            billed = _billed(quantity, p.step)
            net = p.price * billed * _PER[dimension]
            lines.append(
                CostLine(dimension, p.index, p.price, _UNITS[dimension], p.conditions,
                         explain(p.conditions), quantity, p.step, billed, net,
                         apply_taxes(net, _tax_rates(tariff, dimension)),
                         tuple(_merge(periods)))
            )  # fmt: skip

    lines = _clamp(tariff, lines)
    energy = sess.energy_at(sess.stop)
    exported = sess.exported_at(sess.stop) if sess.exports else None
    if exported and not priced["energy"]:
        notes.append(
            f"the vehicle fed back {decimal_text(exported)[0]} Wh; the tariff prices no energy"
        )
    idle_total = sess.idle_before(sess.stop)
    return CostResult(
        tariff_id=tariff["tariffId"],
        currency=currency,
        minor_unit=places,
        time_zone=sess.time_zone,
        start=sess.start,
        stop=sess.stop,
        energy_wh=energy,
        charging_seconds=(sess.stop - sess.start) - idle_total,
        idle_seconds=idle_total,
        lines=tuple(lines),
        notes=tuple(notes),
        exported_wh=exported,
    )


def _reservation_lines(
    tariff: Mapping[str, Any], sess: Session, priced: Mapping[str, list[_Price]]
) -> list[CostLine]:
    """The reservation fee (decided at the reservation's start) and the reservation time."""
    assert sess.reservation is not None
    r0, r1 = sess.reservation
    out: list[CostLine] = []
    fee = _first(priced["reservationFixed"], functools.partial(_fixed_holds, session=sess, at=r0))
    if fee is not None:
        out.append(
            CostLine("reservationFixed", fee.index, fee.price, _UNITS["reservationFixed"],
                     fee.conditions, explain(fee.conditions), Fraction(1), None, Fraction(1),
                     fee.price, apply_taxes(fee.price, _tax_rates(tariff, "reservationFixed")))
        )  # fmt: skip
    prices = priced["reservationTime"]
    if not prices:
        return out
    for p in prices:
        odd = sorted(set(p.conditions) - _RESERVATION_CONDITIONS)
        if odd:
            raise TariffError(
                f"{', '.join(odd)} cannot be evaluated for a reservation (nothing is charged "
                "before the session starts)",
                f"{p.where}.conditions",
                source="tariff",
            )
    cuts: set[Fraction] = {r0, r1}
    times_of_day: set[str] = set()
    for p in prices:
        c = p.conditions
        times_of_day |= {c[k] for k in ("startTimeOfDay", "endTimeOfDay") if k in c}
        cuts |= {r0 + number(c[k], k, "tariff") for k in ("minTime", "maxTime") if k in c}
    cuts |= _local_cuts(r0, r1, sess.zone, times_of_day)
    ordered = sorted(t for t in cuts if r0 <= t <= r1)
    collected: dict[int, list[Period]] = {}
    for t0, t1 in itertools.pairwise(ordered):
        state = _State(to_datetime(t0, sess.zone), t0 - r0, Fraction(0), Fraction(0),
                       Fraction(0), Fraction(0))  # fmt: skip
        price = _first(prices, functools.partial(_holds, state=state, session=sess))
        if price is not None:
            collected.setdefault(price.index, []).append(Period(t0, t1, t1 - t0))
    for p in prices:
        periods = collected.get(p.index)
        if not periods:
            continue
        quantity = sum((x.quantity for x in periods), Fraction(0))
        billed = _billed(quantity, p.step)
        net = p.price * billed * _PER["reservationTime"]
        out.append(
            CostLine("reservationTime", p.index, p.price, _UNITS["reservationTime"], p.conditions,
                     explain(p.conditions), quantity, p.step, billed, net,
                     apply_taxes(net, _tax_rates(tariff, "reservationTime")),
                     tuple(_merge(periods)))
        )  # fmt: skip
    return out


def _merge(periods: Sequence[Period]) -> list[Period]:
    """Join periods that touch (cuts that did not change the price)."""
    out: list[Period] = []
    for p in periods:
        if out and out[-1].stop == p.start:
            out[-1] = Period(out[-1].start, p.stop, out[-1].quantity + p.quantity)
        else:
            out.append(p)
    return out


def _clamp(tariff: Mapping[str, Any], lines: list[CostLine]) -> list[CostLine]:
    """Apply ``minCost`` then ``maxCost``, each amount on its own (SPEC §6, docs/tariffs.md).

    A bound with only ``exclTax`` (``inclTax``) clamps that total and taxes (untaxes) the
    adjustment with the bound's own ``taxRates``; a bound with both clamps each total to its own
    figure, so the adjustment's tax is whatever brings the total incl. tax to ``inclTax``.
    """
    bounds: dict[str, dict[str, Fraction]] = {}
    for member in ("minCost", "maxCost"):
        bound = tariff.get(member)
        if bound is None:
            continue
        amounts = {
            basis: number(bound[basis], f"$.{member}.{basis}", "tariff")
            for basis in ("exclTax", "inclTax")
            if basis in bound
        }
        if not amounts:
            raise TariffError(
                "a PriceType needs exclTax or inclTax", f"$.{member}", source="tariff"
            )
        bounds[member] = amounts
    if "minCost" in bounds and "maxCost" in bounds:
        for basis in ("exclTax", "inclTax"):
            lo, hi = bounds["minCost"].get(basis), bounds["maxCost"].get(basis)
            if lo is not None and hi is not None and lo > hi:
                raise TariffError(
                    f"minCost.{basis} {decimal_text(lo)[0]} is above maxCost.{basis} "
                    f"{decimal_text(hi)[0]}",
                    f"$.minCost.{basis}",
                    source="tariff",
                )
    for member, amounts in bounds.items():
        rates = list(tariff[member].get("taxRates", []))
        excl = sum((x.excl_tax for x in lines), Fraction(0))
        incl = sum((x.incl_tax for x in lines), Fraction(0))
        current = {"exclTax": excl, "inclTax": incl}
        outside = [
            basis
            for basis, target in amounts.items()
            if (current[basis] < target if member == "minCost" else current[basis] > target)
        ]
        if not outside:
            continue
        word = "below" if member == "minCost" else "above"
        why = (
            "; ".join(
                f"total {basis} {decimal_text(current[basis])[0]} is {word} {member}.{basis} "
                f"{decimal_text(amounts[basis])[0]}"
                for basis in outside
            )
            + f"; the total is set to {member}"
        )
        if len(amounts) == 2:
            net = amounts["exclTax"] - excl if "exclTax" in outside else Fraction(0)
            gross = amounts["inclTax"] - incl if "inclTax" in outside else Fraction(0)
            taxes: tuple[TaxAmount, ...] = (
                (TaxAmount("adjustment", Fraction(0), 0, gross - net),) if gross != net else ()
            )
            target = amounts[outside[0]]
        else:
            ((basis, target),) = amounts.items()
            delta = target - current[basis]
            net = delta if basis == "exclTax" else delta / _gross_factor(rates)
            taxes = apply_taxes(net, rates)
        lines.append(CostLine(member, None, target, "total", {}, why, None, None, None, net, taxes))
    return lines
