"""Checks across records: pagination and transactions per meter.

Source: OCMF revision 1.2, "Signing and Verification Process": "The cohesion between several
individual data records is ensured by continuous pagination ... The first record must be marked
as the start of a charging process, the last as the end ... no data records may have been removed
or added ... intermediate error conditions ... must lead to an error ... all data records must
come from the same source (serial number)." Table 2 (PG counters per context, increment 1),
Table 7 (TX letters, EF), Table 10 (ST ``G`` = meter OK), Table 19 (time status), Table 20 (units).

The checker is stateful and fed one verification result at a time in the order the records were
received (the audit feeds it as it reads a log); :meth:`TransactionChecker.finish` reports what is
still open at the end. Each closed transaction yields its billed energy per register
(:class:`BilledEnergy`, end reading minus begin reading, in the meter's unit).

Each finding has a severity (:data:`SEVERITY`): a ``failure`` is a contradiction between the
records given (a value or time running backwards, a repeated record); a ``warning`` is what a
record says about itself (meter status, error flags, unsynchronized time); a ``note`` is what
the records given cannot show (a begin or end that was not among them). The CLI fails on
failures, and with ``--transactions strict`` on every finding.

>>> checker = TransactionChecker()
>>> checker.finish()
[]
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from .record import TX_BEGIN, TX_END, UNITS, OcmfRecord, Reading
from .verify import MeterVerdict, RecordVerification

__all__ = [
    "SEVERITY",
    "BilledEnergy",
    "MeterCheck",
    "MeterFinding",
    "Severity",
    "TransactionChecker",
]


class _Report(Protocol):
    def __call__(self, check: MeterCheck, reason: str, reading: int | None = None) -> None: ...


class MeterCheck(enum.StrEnum):
    """What a meter finding is about."""

    RECORD_NOT_VERIFIED = "record-not-verified"
    PAGINATION_GAP = "pagination-gap"
    PAGINATION_REPEAT = "pagination-repeat"
    BEGIN_MISSING = "begin-missing"
    BEGIN_REPEATED = "begin-repeated"
    END_MISSING = "end-missing"
    TIME_BACKWARDS = "time-backwards"
    VALUE_BACKWARDS = "value-backwards"
    METER_STATUS = "meter-status"
    UNIT_INCONSISTENT = "unit-inconsistent"
    UNIT_UNKNOWN = "unit-unknown"
    ERROR_FLAGS = "error-flags"
    TRANSACTION_ERROR = "transaction-error"
    TIME_NOT_SYNCHRONIZED = "time-not-synchronized"


class Severity(enum.StrEnum):
    """How much a transaction finding weighs (see the module docstring)."""

    FAILURE = "failure"
    WARNING = "warning"
    NOTE = "note"


#: The severity of each check (``--transactions check``, the default).
SEVERITY: dict[MeterCheck, Severity] = {
    MeterCheck.RECORD_NOT_VERIFIED: Severity.NOTE,  # its own verdict already fails
    MeterCheck.PAGINATION_GAP: Severity.WARNING,
    MeterCheck.PAGINATION_REPEAT: Severity.FAILURE,
    MeterCheck.BEGIN_MISSING: Severity.NOTE,
    MeterCheck.BEGIN_REPEATED: Severity.FAILURE,
    MeterCheck.END_MISSING: Severity.NOTE,
    MeterCheck.TIME_BACKWARDS: Severity.FAILURE,
    MeterCheck.VALUE_BACKWARDS: Severity.FAILURE,
    MeterCheck.METER_STATUS: Severity.WARNING,
    MeterCheck.UNIT_INCONSISTENT: Severity.FAILURE,
    MeterCheck.UNIT_UNKNOWN: Severity.WARNING,
    MeterCheck.ERROR_FLAGS: Severity.WARNING,
    MeterCheck.TRANSACTION_ERROR: Severity.WARNING,
    MeterCheck.TIME_NOT_SYNCHRONIZED: Severity.WARNING,
}


@dataclass(frozen=True)
class BilledEnergy:
    """The energy of one register over one transaction: end reading minus begin reading.

    ``energy`` is exact, in ``unit`` as the meter signed it; :attr:`energy_wh` converts kWh/Wh.
    """

    meter: str
    register: str | None
    unit: str | None
    begin_where: str
    begin_pagination: str | None
    begin_time: datetime
    begin_value: Decimal
    end_where: str
    end_pagination: str | None
    end_time: datetime
    end_value: Decimal
    end_letter: str

    @property
    def energy(self) -> Decimal:
        """End value minus begin value, exactly."""
        return self.end_value - self.begin_value

    @property
    def energy_wh(self) -> Decimal | None:
        """The energy in Wh (exact), or None for units other than kWh and Wh."""
        if self.unit == "kWh":
            return self.energy * 1000
        return self.energy if self.unit == "Wh" else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with stable field names (numbers as exact decimal strings)."""
        wh = self.energy_wh
        return {
            "meter": self.meter,
            "register": self.register,
            "begin": {
                "where": self.begin_where,
                "pagination": self.begin_pagination,
                "time": self.begin_time.isoformat(),
                "value": str(self.begin_value),
            },
            "end": {
                "where": self.end_where,
                "pagination": self.end_pagination,
                "time": self.end_time.isoformat(),
                "value": str(self.end_value),
                "transaction": self.end_letter,
            },
            "energy": str(self.energy),
            "unit": self.unit,
            "energyWh": None if wh is None else _plain(wh),
        }


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class MeterFinding:
    """One failed check, naming the record (``where``, ``pagination``) and reading it concerns."""

    check: MeterCheck
    reason: str
    meter: str
    where: str
    pagination: str | None = None
    reading: int | None = None

    @property
    def severity(self) -> Severity:
        """This finding's weight under ``--transactions check`` (:data:`SEVERITY`)."""
        return SEVERITY[self.check]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with stable field names."""
        return {
            "check": self.check.value,
            "severity": self.severity.value,
            "reason": self.reason,
            "meter": self.meter,
            "where": self.where,
            "pagination": self.pagination,
            "reading": self.reading,
        }


@dataclass
class _Last:
    time: datetime
    value: Decimal | None
    unit: str | None
    where: str
    pagination: str


@dataclass
class _Open:
    where: str
    pagination: str
    begin_time: datetime
    last: dict[str | None, _Last] = field(default_factory=dict)  # by RI (OBIS code)
    begin: dict[str | None, tuple[Reading, str, str]] = field(default_factory=dict)
    closing: bool = False


@dataclass
class _Meter:
    pagination: dict[str, int] = field(default_factory=dict)  # context letter -> last counter
    open: _Open | None = None


class TransactionChecker:
    """Checks pagination and transactions of each meter (``GS/MS``) across fed records.

    Only records whose signature verified under a trusted key take part; with
    ``require_trusted=False`` records verified under the message's own key (``valid-untrusted``)
    take part too. Every other record yields a ``record-not-verified`` finding and is left out,
    since its content proves nothing.
    """

    def __init__(self, *, require_trusted: bool = True) -> None:
        self._require_trusted = require_trusted
        self._meters: dict[str, _Meter] = {}
        self._billed: list[BilledEnergy] = []

    @property
    def billed(self) -> tuple[BilledEnergy, ...]:
        """The energy of every transaction closed so far, per register, in the order closed."""
        return tuple(self._billed)

    def feed(self, result: RecordVerification) -> list[MeterFinding]:
        """Check one record (in the order received) and return the findings it causes."""
        record = result.record
        usable = result.valid or (
            not self._require_trusted and result.verdict is MeterVerdict.VALID_UNTRUSTED
        )
        if record is None or not usable:
            meter = record.meter if record is not None else "?"
            return [
                MeterFinding(
                    MeterCheck.RECORD_NOT_VERIFIED,
                    f"left out of the transaction checks: {result.verdict.value} ({result.reason})",
                    meter,
                    result.where,
                    record.pagination if record is not None else None,
                )
            ]
        return self._record(record, result.where)

    def finish(self) -> list[MeterFinding]:
        """Report transactions still open (a begin without an end); resets those transactions."""
        out: list[MeterFinding] = []
        for name, state in self._meters.items():
            if state.open is not None:
                out.append(
                    MeterFinding(
                        MeterCheck.END_MISSING,
                        "transaction begun here has no end reading",
                        name,
                        state.open.where,
                        state.open.pagination,
                    )
                )
                state.open = None
        return out

    # -- internals

    def _record(self, record: OcmfRecord, where: str) -> list[MeterFinding]:
        meter = record.meter
        state = self._meters.setdefault(meter, _Meter())
        out: list[MeterFinding] = []
        pg = record.pagination

        def finding(check: MeterCheck, reason: str, reading: int | None = None) -> None:
            out.append(MeterFinding(check, reason, meter, where, pg, reading))

        ctx, counter = record.pagination_context, record.pagination_counter
        previous = state.pagination.get(ctx) if ctx is not None else None
        if previous is not None and counter is not None and counter <= previous:
            finding(
                MeterCheck.PAGINATION_REPEAT,
                f"{pg} does not follow {ctx}{previous}: a repeated or replayed record; its "
                "readings are left out",
            )
            return out
        if previous is not None and counter is not None and counter > previous + 1:
            missing = counter - previous - 1
            finding(
                MeterCheck.PAGINATION_GAP,
                f"{pg} follows {ctx}{previous}: {missing} record(s) missing",
            )
        if ctx is not None and counter is not None:
            state.pagination[ctx] = counter
        for reading in record.readings:
            self._reading(state, reading, where, pg or "?", finding, meter)
        if state.open is not None and state.open.closing:
            state.open = None  # every register of the end record has been read
        return out

    def _reading(
        self,
        state: _Meter,
        r: Reading,
        where: str,
        pg: str,
        finding: _Report,
        record_meter: str = "",
    ) -> None:
        i = r.index
        if r.status != "G":
            finding(
                MeterCheck.METER_STATUS,
                f"meter status {r.status!r}, not G (OCMF Table 10)"
                if r.status is not None
                else "no meter status (ST)",
                i,
            )
        if r.error_flags:
            finding(
                MeterCheck.ERROR_FLAGS,
                f"error flags {r.error_flags!r}: quantities not usable for billing (E energy, "
                "t time)",
                i,
            )
        if r.time_status in ("U", ""):
            finding(MeterCheck.TIME_NOT_SYNCHRONIZED, f"time {r.time_text!r} is unsynchronized", i)
        if r.unit is not None and r.unit not in UNITS:
            finding(MeterCheck.UNIT_UNKNOWN, f"unit {r.unit!r} is not in OCMF Table 20", i)
        tx = r.transaction
        if tx is None:
            return  # fiscal reading: no transaction reference (OCMF Table 7 "TX")
        if tx in ("X", "A", "P"):
            finding(
                MeterCheck.TRANSACTION_ERROR,
                f"TX {tx}: error during the transaction (OCMF Table 7); time or energy may be "
                "unusable from this reading on",
                i,
            )
        if tx in TX_BEGIN:
            same_record = (
                state.open is not None
                and state.open.where == where
                and state.open.pagination == pg
                and r.identification not in state.open.begin
            )
            if state.open is not None and not same_record:
                finding(
                    MeterCheck.BEGIN_REPEATED,
                    f"second begin reading: the transaction begun at {state.open.pagination} "
                    "has no end",
                    i,
                )
            if state.open is None or not same_record:
                state.open = _Open(where, pg, r.time)
            state.open.last[r.identification] = _Last(r.time, r.value, r.unit, where, pg)
            state.open.begin[r.identification] = (r, where, pg)
            return
        if state.open is None:
            kind = "end" if tx in TX_END else "intermediate"
            finding(MeterCheck.BEGIN_MISSING, f"{kind} reading (TX {tx}) without a begin", i)
            return
        self._compare(state.open, r, where, pg, finding)
        if tx in TX_END:
            self._bill(state.open, r, where, pg, record_meter)
            state.open.closing = True

    def _bill(self, tx: _Open, r: Reading, where: str, pg: str, meter: str) -> None:
        begun = tx.begin.get(r.identification)
        if begun is None or r.value is None:
            return
        b, b_where, b_pg = begun
        if b.value is None or (b.unit is not None and r.unit is not None and b.unit != r.unit):
            return
        self._billed.append(
            BilledEnergy(
                meter=meter,
                register=r.identification,
                unit=r.unit or b.unit,
                begin_where=b_where,
                begin_pagination=None if b_pg == "?" else b_pg,
                begin_time=b.time,
                begin_value=b.value,
                end_where=where,
                end_pagination=None if pg == "?" else pg,
                end_time=r.time,
                end_value=r.value,
                end_letter=r.transaction or "",
            )
        )

    @staticmethod
    def _compare(tx: _Open, r: Reading, where: str, pg: str, finding: _Report) -> None:
        i = r.index
        last = tx.last.get(r.identification)
        if r.time < tx.begin_time:
            finding(MeterCheck.TIME_BACKWARDS, f"time {r.time_text} is before the begin reading", i)
        elif last is not None and r.time < last.time:
            finding(
                MeterCheck.TIME_BACKWARDS,
                f"time {r.time_text} is before the previous reading ({last.pagination})",
                i,
            )
        if (
            last is not None
            and r.unit is not None
            and last.unit is not None
            and r.unit != last.unit
        ):
            finding(
                MeterCheck.UNIT_INCONSISTENT,
                f"unit {r.unit} differs from {last.unit} earlier in the transaction "
                f"({last.pagination})",
                i,
            )
            return  # values in different units cannot be compared
        if (
            last is not None
            and r.value is not None
            and last.value is not None
            and r.value < last.value
        ):
            finding(
                MeterCheck.VALUE_BACKWARDS,
                f"value {r.value} is below {last.value} of the previous reading "
                f"({last.pagination})",
                i,
            )
        if r.value is not None or last is None:
            tx.last[r.identification] = _Last(
                r.time, r.value, r.unit or (last.unit if last else None), where, pg
            )
