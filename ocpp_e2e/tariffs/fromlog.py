"""Session records built from captured OCPP frames, so a user can bill what an audit read.

OCPP 2.0.1/2.1: ``TransactionEvent`` (``Started``/``Updated``/``Ended``) of one
``transactionInfo.transactionId``: the start and stop are the ``Started`` and ``Ended`` event
timestamps, the energy is the ``Energy.Active.Import.Register`` of the ``meterValue`` entries
(the measurand OCPP assumes when none is named; phase totals only), ``transactionInfo.chargingState``
other than ``Charging`` marks idle periods, and a ``reservationId`` links the ``ReserveNow`` whose
capture time starts the reservation.

OCPP 1.6: ``StartTransaction`` (``meterStart``, ``timestamp``) paired by message id with its
CALLRESULT (which assigns ``transactionId``), ``MeterValues`` of that ``transactionId``,
``StopTransaction`` (``meterStop``, ``timestamp``, ``transactionData``), and ``ReserveNow`` by
``reservationId``; the ``StatusNotification`` of the transaction's connector (same station) gives
the idle periods: ``Charging`` charges, ``SuspendedEV``, ``SuspendedEVSE`` and the others do not.

This module is pure: it is fed frames (:class:`LoggedFrame`) and returns session records; reading
log files is the caller's (``tariff session-from-log`` uses the audit's readers).

>>> frames = [
...     LoggedFrame(None, "toCSMS", "2.0.1", '[2,"1","TransactionEvent",{"eventType":"Started",'
...         '"timestamp":"2026-03-02T10:00:00Z","triggerReason":"Authorized","seqNo":0,'
...         '"transactionInfo":{"transactionId":"tx-1"},"meterValue":[{"timestamp":'
...         '"2026-03-02T10:00:00Z","sampledValue":[{"value":1000}]}]}]', "log:1"),
...     LoggedFrame(None, "toCSMS", "2.0.1", '[2,"2","TransactionEvent",{"eventType":"Ended",'
...         '"timestamp":"2026-03-02T10:30:00Z","triggerReason":"EVDeparted","seqNo":1,'
...         '"transactionInfo":{"transactionId":"tx-1"},"meterValue":[{"timestamp":'
...         '"2026-03-02T10:30:00Z","sampledValue":[{"value":8.5,"unitOfMeasure":{"unit":"kWh"}}]}]}]',
...         "log:2"),
... ]
>>> (found,) = sessions_from_frames(frames)
>>> found.record["meterStartWh"], found.record["meterStopWh"]
(1000, 8500)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import OcppE2EError, TariffError
from ..frames import MessageType, parse_frame

__all__ = [
    "LoggedFrame",
    "LoggedSession",
    "sessions_from_frames",
]

_ENERGY = "Energy.Active.Import.Register"
_EXPORT = "Energy.Active.Export.Register"
_UNIT_FACTOR = {"Wh": Decimal(1), "kWh": Decimal(1000)}
_MAX_MULTIPLIER = 9  # OCPP's multiplier is a power of ten; beyond this it is no meter's


@dataclass(frozen=True)
class LoggedFrame:
    """One captured frame: capture time (or None), direction, OCPP version, exact text, place."""

    ts: datetime | None
    direction: str
    ocpp: str
    frame: str
    where: str
    station: str = ""


@dataclass
class LoggedSession:
    """A session record (``record``, as :class:`~ocpp_e2e.tariffs.session.Session` reads it)
    built from frames, with the transaction id, the frames it came from and notes on what the
    frames did not say."""

    transaction_id: str
    record: dict[str, Any]
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the record and what it came from."""
        return {
            "transactionId": self.transaction_id,
            "session": self.record,
            "sources": self.sources,
            "notes": self.notes,
        }


@dataclass
class _Tx:
    tid: str
    start: datetime | None = None
    stop: datetime | None = None
    start_wh: Decimal | None = None
    stop_wh: Decimal | None = None
    readings: list[tuple[datetime, Decimal]] = field(default_factory=list)
    exports: list[tuple[datetime, Decimal]] = field(default_factory=list)
    states: list[tuple[datetime, str]] = field(default_factory=list)
    reservation_id: str | None = None
    connector: tuple[str, int] | None = None  # 1.6: (station, connectorId)
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def sessions_from_frames(
    frames: Iterable[LoggedFrame],
    *,
    time_zone: str = "UTC",
    evse_kind: str | None = None,
) -> list[LoggedSession]:
    """Session records of every transaction that ended in ``frames``, in order of ending.

    A transaction without its start or end in the frames is left out (it cannot be billed);
    :class:`TariffError` names a frame that contradicts the transaction (a meter value that is
    not a number, a unit that is not energy).
    """
    txs: dict[str, _Tx] = {}
    ended: list[str] = []
    pending_starts: dict[str, tuple[dict[str, Any], LoggedFrame]] = {}  # 1.6 message id
    reservations: dict[str, datetime] = {}
    statuses: dict[tuple[str, int], list[tuple[datetime, str]]] = {}
    for item in frames:
        try:
            frame = parse_frame(item.frame, ocpp=item.ocpp)
        except OcppE2EError:
            continue  # not a frame the audit would bill; the audit reports it
        payload = frame.payload
        if frame.type is MessageType.CALL and frame.action == "ReserveNow" and item.ts:
            rid = payload.get("id", payload.get("reservationId"))
            if isinstance(rid, int | str) and not isinstance(rid, bool):
                reservations[str(rid)] = item.ts
            continue
        if item.direction != "toCSMS" and frame.type is MessageType.CALL:
            continue
        if frame.type is MessageType.CALL and frame.action == "StatusNotification":
            _status_16(payload, item, statuses)
        elif frame.type is MessageType.CALL and frame.action == "TransactionEvent":
            _transaction_event(payload, item, txs, ended)
        elif frame.type is MessageType.CALL and frame.action == "StartTransaction":
            pending_starts[frame.message_id] = (payload, item)
        elif frame.type is MessageType.CALLRESULT and frame.message_id in pending_starts:
            start, started = pending_starts.pop(frame.message_id)
            tid = payload.get("transactionId")
            if isinstance(tid, int) and not isinstance(tid, bool):
                _start_16(start, str(tid), started, txs)
        elif frame.type is MessageType.CALL and frame.action == "MeterValues":
            tid = payload.get("transactionId")
            if isinstance(tid, int) and str(tid) in txs:
                tx = txs[str(tid)]
                tx.sources.append(item.where)
                tx.readings += _meter_values(payload.get("meterValue"), item.where)
                tx.exports += _meter_values(payload.get("meterValue"), item.where, _EXPORT)
        elif frame.type is MessageType.CALL and frame.action == "StopTransaction":
            tid = payload.get("transactionId")
            if isinstance(tid, int) and str(tid) in txs:
                _stop_16(payload, txs[str(tid)], item.where)
                ended.append(str(tid))
    out = []
    for tid in ended:
        tx = txs[tid]
        if tx.connector is not None:
            tx.states += statuses.get(tx.connector, [])
        built = _build(tx, reservations, time_zone, evse_kind)
        if built is not None:
            out.append(built)
    return out


# --------------------------------------------------------------------------- OCPP 2.0.1 / 2.1


def _transaction_event(
    payload: Mapping[str, Any], item: LoggedFrame, txs: dict[str, _Tx], ended: list[str]
) -> None:
    info = payload.get("transactionInfo")
    if not isinstance(info, Mapping) or not isinstance(info.get("transactionId"), str):
        return
    tid = info["transactionId"]
    tx = txs.setdefault(tid, _Tx(tid))
    tx.sources.append(item.where)
    when = _time(payload.get("timestamp"), item.where, "timestamp")
    kind = payload.get("eventType")
    tx.readings += _meter_values(payload.get("meterValue"), item.where)
    tx.exports += _meter_values(payload.get("meterValue"), item.where, _EXPORT)
    state = info.get("chargingState")
    if isinstance(state, str):
        tx.states.append((when, state))
    rid = payload.get("reservationId")
    if isinstance(rid, int) and not isinstance(rid, bool):
        tx.reservation_id = str(rid)
    if kind == "Started":
        tx.start = when
    elif kind == "Ended":
        tx.stop = when
        if tid not in ended:
            ended.append(tid)


# --------------------------------------------------------------------------- OCPP 1.6


def _status_16(
    payload: Mapping[str, Any],
    item: LoggedFrame,
    statuses: dict[tuple[str, int], list[tuple[datetime, str]]],
) -> None:
    connector, status = payload.get("connectorId"), payload.get("status")
    if not isinstance(connector, int) or isinstance(connector, bool) or not isinstance(status, str):
        return
    when = item.ts
    if isinstance(payload.get("timestamp"), str):
        when = _time(payload["timestamp"], item.where, "timestamp")
    if when is not None:
        statuses.setdefault((item.station, connector), []).append((when, status))


def _start_16(payload: Mapping[str, Any], tid: str, item: LoggedFrame, txs: dict[str, _Tx]) -> None:
    where = item.where
    tx = txs.setdefault(tid, _Tx(tid))
    tx.sources.append(where)
    connector = payload.get("connectorId")
    if isinstance(connector, int) and not isinstance(connector, bool):
        tx.connector = (item.station, connector)
    tx.start = _time(payload.get("timestamp"), where, "timestamp")
    tx.start_wh = _number(payload.get("meterStart"), where, "meterStart")
    rid = payload.get("reservationId")
    if isinstance(rid, int) and not isinstance(rid, bool):
        tx.reservation_id = str(rid)


def _stop_16(payload: Mapping[str, Any], tx: _Tx, where: str) -> None:
    tx.sources.append(where)
    tx.stop = _time(payload.get("timestamp"), where, "timestamp")
    tx.stop_wh = _number(payload.get("meterStop"), where, "meterStop")
    tx.readings += _meter_values(payload.get("transactionData"), where)
    tx.exports += _meter_values(payload.get("transactionData"), where, _EXPORT)


# --------------------------------------------------------------------------- values


def _meter_values(
    values: Any, where: str, measurand: str = _ENERGY
) -> list[tuple[datetime, Decimal]]:
    out: list[tuple[datetime, Decimal]] = []
    if not isinstance(values, list):
        return out
    for i, mv in enumerate(values):
        if not isinstance(mv, Mapping):
            continue
        when = _time(mv.get("timestamp"), where, f"meterValue[{i}].timestamp")
        for j, sv in enumerate(mv.get("sampledValue") or []):
            if not isinstance(sv, Mapping):
                continue
            if sv.get("measurand", _ENERGY) != measurand or sv.get("phase") is not None:
                continue
            if sv.get("location", "Outlet") not in ("Outlet", "Cable", "EV"):
                continue  # an inlet or body reading is not the energy billed to this session
            place = f"meterValue[{i}].sampledValue[{j}]"
            value = _number(sv.get("value"), where, f"{place}.value")
            out.append((when, value * _factor(sv, where, place)))
    return out


def _factor(sv: Mapping[str, Any], where: str, place: str) -> Decimal:
    unit_of_measure = sv.get("unitOfMeasure")
    if isinstance(unit_of_measure, Mapping):  # 2.x
        unit = unit_of_measure.get("unit", "Wh")
        multiplier = unit_of_measure.get("multiplier", 0)
    else:  # 1.6
        unit, multiplier = sv.get("unit", "Wh"), 0
    if unit not in _UNIT_FACTOR:
        raise TariffError(
            f"energy in {unit!r}: only Wh and kWh are energy units", f"{place}.unit", source=where
        )
    if not isinstance(multiplier, int) or abs(multiplier) > _MAX_MULTIPLIER:
        raise TariffError(
            f"multiplier {multiplier!r} is not a power of ten a meter uses",
            f"{place}.unitOfMeasure.multiplier",
            source=where,
        )
    return _UNIT_FACTOR[unit] * Decimal(10) ** multiplier


def _number(value: Any, where: str, place: str) -> Decimal:
    if isinstance(value, bool):
        raise TariffError("must be a number", place, source=where)
    if isinstance(value, int | float | str | Decimal):
        try:
            out = Decimal(str(value)) if not isinstance(value, Decimal) else value
        except InvalidOperation:
            out = None
        if out is not None and out.is_finite() and abs(out.adjusted()) <= 15:
            return out
    raise TariffError(f"{str(value)[:40]!r} is not a meter value in range", place, source=where)


def _time(value: Any, where: str, place: str) -> datetime:
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            return when
    raise TariffError("must be an RFC 3339 date-time with an offset", place, source=where)


def _text(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_number(value: Decimal) -> int | float:
    # Session records are JSON; an integral Wh stays an integer, a fraction its shortest float.
    if value == value.to_integral_value():
        return int(value)
    return float(value)


# --------------------------------------------------------------------------- the record


def _build(
    tx: _Tx, reservations: Mapping[str, datetime], time_zone: str, evse_kind: str | None
) -> LoggedSession | None:
    if tx.start is None or tx.stop is None or tx.stop <= tx.start:
        return None
    notes = list(tx.notes)
    inside = sorted((r for r in tx.readings if tx.start <= r[0] <= tx.stop), key=lambda r: r[0])
    outside = len(tx.readings) - len(inside)
    if outside:
        notes.append(f"{outside} meter value(s) outside the transaction's start and stop left out")
    start_wh = tx.start_wh
    if start_wh is None:
        if not inside:
            notes.append("no energy register reading: energy 0")
            start_wh = Decimal(0)
        else:
            start_wh = inside[0][1]
            if inside[0][0] != tx.start:
                notes.append(
                    f"the first energy reading is at {_text(inside[0][0])}, after the start"
                )
    stop_wh = tx.stop_wh
    if stop_wh is None:
        stop_wh = inside[-1][1] if inside else start_wh
    between = []
    last_t, last_v = tx.start, start_wh
    for t, v in inside:
        if t in (tx.start, tx.stop) or t == last_t:
            continue
        if v < last_v:
            notes.append(f"reading {v} Wh at {_text(t)} below an earlier one: left out")
            continue
        between.append({"timestamp": _text(t), "wh": _json_number(v)})
        last_t, last_v = t, v
    if stop_wh < last_v:
        notes.append(f"the stop reading {stop_wh} Wh is below an earlier reading")
    record: dict[str, Any] = {
        "start": _text(tx.start),
        "stop": _text(tx.stop),
        "timeZone": time_zone,
        "meterStartWh": _json_number(start_wh),
        "meterStopWh": _json_number(stop_wh),
    }
    _add_exports(tx, record, between, notes)
    if between:
        record["meterValues"] = between
    idle = _idle(tx)
    if idle:
        record["idlePeriods"] = idle
    elif not tx.states:
        notes.append("no charging state reported: no idle periods")
    if evse_kind is not None:
        record["evseKind"] = evse_kind
    if tx.reservation_id is not None:
        made = reservations.get(tx.reservation_id)
        if made is not None and made < tx.start:
            record["reservationStart"] = _text(made)
            record["reservationStop"] = _text(tx.start)
        else:
            notes.append(
                f"reservation {tx.reservation_id}: no ReserveNow with a capture time before the "
                "start; the reservation is not billed"
            )
    return LoggedSession(tx.tid, record, list(dict.fromkeys(tx.sources)), notes)


def _add_exports(
    tx: _Tx, record: dict[str, Any], between: list[dict[str, Any]], notes: list[str]
) -> None:
    # Energy.Active.Export.Register (the vehicle feeding back): the first and last readings in the
    # transaction are the export register at start and stop; a reading at an instant that also
    # has an import reading goes beside it.
    assert tx.start is not None and tx.stop is not None
    inside = sorted((r for r in tx.exports if tx.start <= r[0] <= tx.stop), key=lambda r: r[0])
    if not inside:
        return
    record["meterStartExportWh"] = _json_number(inside[0][1])
    record["meterStopExportWh"] = _json_number(inside[-1][1])
    if inside[0][0] != tx.start or inside[-1][0] != tx.stop:
        notes.append("the export register was not read at the start and stop: first and last "
                     "export readings used")  # fmt: skip
    at = {t: v for t, v in inside}
    for item in between:
        when = datetime.fromisoformat(item["timestamp"])
        if when in at:
            item["exportWh"] = _json_number(at[when])


def _idle(tx: _Tx) -> list[dict[str, str]]:
    assert tx.start is not None and tx.stop is not None
    out: list[dict[str, str]] = []
    idle_since: datetime | None = None
    for when, state in sorted(tx.states, key=lambda s: s[0]):
        when = min(max(when, tx.start), tx.stop)
        if state == "Charging":
            if idle_since is not None and when > idle_since:
                out.append({"start": _text(idle_since), "stop": _text(when)})
            idle_since = None
        elif idle_since is None:
            idle_since = when
    if idle_since is not None and tx.stop > idle_since:
        out.append({"start": _text(idle_since), "stop": _text(tx.stop)})
    return out
