"""Parsing of OCMF records ``OCMF|<payload JSON>|<signature JSON>`` (no cryptography here).

Source: SAFE e.V., "Open Charge Metering Format" revision 1.2: section "Sections" (the three
pipe-separated sections), Tables 1-7 (payload fields), Table 8 (signature fields), Table 10
(meter status), Table 19 (time status), Table 20 (units).

The signature covers the payload section *exactly as received*: OCMF allows whitespace anywhere
in it and says it must not be changed between signing and verification. So this module never
re-serializes the payload; :attr:`OcmfRecord.payload_bytes` is the slice of the input between the
first and the second section separator. The end of the payload is found by parsing the JSON, not
by searching for ``|``: a ``|`` inside a JSON string (which OCMF forbids but a hostile or careless
producer may send) must not move the boundary.

>>> rec = parse_record('OCMF|{"PG":"T1","MS":"M1","RD":[{"TM":"2024-01-01T10:00:00,000+0000 S",'
...                    '"TX":"B","RV":1.5,"RU":"kWh","ST":"G"}]}|{"SD":"3006020101020101"}')
>>> rec.pagination, rec.readings[0].value
('T1', Decimal('1.5'))
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from .._b64 import Base64Error, b64_decode
from ..errors import MeterRecordError
from .algorithms import DEFAULT_ALGORITHM

_HEADER = "OCMF|"
_JSON_WS = " \t\n\r"
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
# OCMF Table 2: a context letter and a counter without leading zeros.
_PG = re.compile(r"([TF])(0|[1-9][0-9]*)")
# OCMF Table 7 "TM": <Y>-<M>-<D>T<h>:<m>:<s>,<ms><+hhmm> <time status>
_TM = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2}),(\d{3})([+-])(\d{2})(\d{2}) ([UISR])"
)
# Signature section members OCMF Table 8 defines; initials reserved for vendors (U-Z) and for
# later processing (A-F) by the "Extension Points in Signature Section" paragraph.
_SIGNATURE_MEMBERS = frozenset({"SA", "SE", "SM", "SD"})
_SIGNATURE_EXTENSION_INITIALS = frozenset("UVWXYZABCDEF")
_READING_FIELDS = frozenset({"TM", "TX", "RV", "RI", "RU", "RT", "CL", "EF", "ST"})
# Reading fields that a later reading of the same record may omit to mean "same as before"
# (OCMF "Readings": "fields that have an identical value to the previous reading are omitted").
# TM is mandatory in every reading; RV and CL are per-reading quantities and never carried over.
_INHERITED = ("TX", "RI", "RU", "RT", "EF", "ST")

#: OCMF Table 7 ``TX`` letters: begin, intermediate and end readings of a transaction.
TX_BEGIN = frozenset("B")
TX_INTERMEDIATE = frozenset("CXST")
TX_END = frozenset("ELRAP")
#: OCMF Table 20 predefined units.
UNITS = frozenset({"kWh", "Wh", "mOhm", "uOhm"})


@dataclass(frozen=True)
class Reading:
    """One entry of ``RD`` with the OCMF carry-over rule applied (omitted = previous value).

    ``time`` is the ``TM`` instant (timezone-aware); ``time_status`` its synchronization letter
    (OCMF Table 19: U unknown, I informative, S synchronized, R relative). ``value`` keeps the
    exact decimal digits the meter signed.
    """

    index: int
    time: datetime
    time_text: str
    time_status: str
    transaction: str | None
    value: Decimal | None
    identification: str | None
    unit: str | None
    current_type: str | None
    error_flags: str
    status: str


@dataclass(frozen=True)
class OcmfRecord:
    """A parsed OCMF record. ``payload_bytes`` is exactly what the meter signed."""

    text: str
    payload_bytes: bytes
    payload: Mapping[str, Any]
    signature_section: Mapping[str, Any]
    algorithm: str
    signature_encoding: str
    signature: bytes
    readings: tuple[Reading, ...]

    @property
    def pagination(self) -> str:
        """``PG``, e.g. ``T12`` (context letter and counter)."""
        return str(self.payload["PG"])

    @property
    def pagination_context(self) -> str:
        """``T`` (transaction) or ``F`` (fiscal), OCMF Table 2."""
        return self.pagination[0]

    @property
    def pagination_counter(self) -> int:
        """The counter of ``PG`` as an integer."""
        return int(self.pagination[1:])

    @property
    def gateway_serial(self) -> str | None:
        """``GS``, the serial of the signing gateway, if given."""
        gs = self.payload.get("GS")
        return gs if isinstance(gs, str) else None

    @property
    def meter_serial(self) -> str:
        """``MS``, the meter serial (mandatory, OCMF Table 3)."""
        return str(self.payload["MS"])

    @property
    def meter(self) -> str:
        """The meter identity used for transaction checks: ``GS/MS`` (OCMF "Relation of Serial
        Numbers": a gateway serving several meters is identified by both serials)."""
        return f"{self.gateway_serial or ''}/{self.meter_serial}"


def parse_record(data: str | bytes, *, where: str = "record") -> OcmfRecord:
    """Parse one OCMF record; raise :class:`MeterRecordError` naming ``where`` and the problem.

    ``data`` is the record text (bytes must be UTF-8). Nothing is normalized: surrounding
    whitespace, a byte-order mark or a lower-case header are refused rather than guessed at.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MeterRecordError(
                f"not UTF-8 text ({exc.reason} at byte {exc.start})", where
            ) from exc
    else:
        text = data
    if not text.startswith(_HEADER):
        raise MeterRecordError('does not start with the OCMF header "OCMF|"', where)
    start = len(_HEADER)
    decoder = json.JSONDecoder(
        object_pairs_hook=_no_duplicates, parse_float=Decimal, parse_constant=_no_constant
    )
    pos = _skip_ws(text, start)
    try:
        payload, end = decoder.raw_decode(text, pos)
    except _DuplicateMember as exc:
        raise MeterRecordError(f"payload section: duplicate member {exc.name!r}", where) from exc
    except ValueError as exc:
        raise MeterRecordError(f"payload section is not JSON: {exc}", where) from exc
    sep = _skip_ws(text, end)
    if sep >= len(text) or text[sep] != "|":
        raise MeterRecordError(
            "payload section must be followed by '|' and the signature section", where
        )
    try:
        payload_bytes = text[start:sep].encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MeterRecordError("payload section holds a lone surrogate (not UTF-8)", where) from exc
    sig_text = text[sep + 1 :]
    try:
        signature_section = decoder.decode(sig_text)
    except _DuplicateMember as exc:
        raise MeterRecordError(f"signature section: duplicate member {exc.name!r}", where) from exc
    except ValueError as exc:
        raise MeterRecordError(f"signature section is not one JSON object: {exc}", where) from exc
    if not isinstance(payload, dict):
        raise MeterRecordError("payload section must be a JSON object", where)
    if not isinstance(signature_section, dict):
        raise MeterRecordError("signature section must be a JSON object", where)
    algorithm, encoding, signature = _signature(signature_section, where)
    readings = _payload(payload, where)
    return OcmfRecord(
        text=text,
        payload_bytes=payload_bytes,
        payload=payload,
        signature_section=signature_section,
        algorithm=algorithm,
        signature_encoding=encoding,
        signature=signature,
        readings=readings,
    )


class _DuplicateMember(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _no_duplicates(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers that resolve a duplicate member differently would read different readings
    # from the same signed bytes; refuse the record instead.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateMember(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _JSON_WS:
        pos += 1
    return pos


def _signature(section: Mapping[str, Any], where: str) -> tuple[str, str, bytes]:
    place = f"{where}: signature section"
    for name in section:
        if name not in _SIGNATURE_MEMBERS and name[:1] not in _SIGNATURE_EXTENSION_INITIALS:
            raise MeterRecordError(
                f"unknown member {name!r} (OCMF Table 8 defines SA, SE, SM, SD; only names "
                "starting with A-F or U-Z are extension points)",
                place,
            )
        if name in _SIGNATURE_MEMBERS and not isinstance(section[name], str):
            raise MeterRecordError(f"{name} must be a string", place)
    algorithm = section.get("SA", DEFAULT_ALGORITHM)
    encoding = section.get("SE", "hex")
    mime = section.get("SM", "application/x-der")
    if mime != "application/x-der":
        raise MeterRecordError(
            f"SM {mime!r} is not supported (OCMF Table 8 defines only application/x-der)", place
        )
    sd = section.get("SD")
    if sd is None:
        raise MeterRecordError("SD (the signature data) is missing", place)
    if encoding == "hex":
        # OCMF does not fix the case of hex digits; producers use both.
        if _HEX.fullmatch(sd) is None:
            raise MeterRecordError("SD is not hex (an even number of 0-9 a-f A-F digits)", place)
        signature = bytes.fromhex(sd)
    elif encoding == "base64":
        try:
            signature = b64_decode(sd)
        except Base64Error as exc:
            raise MeterRecordError(f"SD: {exc}", place) from exc
    else:
        raise MeterRecordError(
            f"SE {encoding!r} is not supported (OCMF Table 8: hex or base64)", place
        )
    return algorithm, encoding, signature


def _payload(payload: Mapping[str, Any], where: str) -> tuple[Reading, ...]:
    place = f"{where}: payload"
    pg = payload.get("PG")
    if not isinstance(pg, str) or _PG.fullmatch(pg) is None:
        raise MeterRecordError(
            "PG must be a string: T or F and a counter without leading zeros (OCMF Table 2)",
            place,
        )
    ms = payload.get("MS")
    if not isinstance(ms, str) or not ms:
        raise MeterRecordError("MS (meter serial, OCMF Table 3) must be a non-empty string", place)
    for name in ("FV", "GI", "GS", "GV", "MV", "MM", "MF", "IL", "IT", "ID", "TT", "CT", "CI"):
        if name in payload and not isinstance(payload[name], str):
            raise MeterRecordError(f"{name} must be a string", place)
    if "IS" in payload and not isinstance(payload["IS"], bool):
        raise MeterRecordError("IS must be true or false", place)
    rd = payload.get("RD")
    if not isinstance(rd, list) or not rd:
        raise MeterRecordError("RD must be a non-empty array of readings (OCMF Table 7)", place)
    readings: list[Reading] = []
    carried: dict[str, Any] = {}
    for i, raw in enumerate(rd):
        readings.append(_reading(i, raw, carried, f"{place}.RD[{i}]"))
    return tuple(readings)


def _reading(index: int, raw: Any, carried: dict[str, Any], place: str) -> Reading:
    if not isinstance(raw, dict):
        raise MeterRecordError("a reading must be a JSON object", place)
    unknown = sorted(set(raw) - _READING_FIELDS)
    if unknown:
        raise MeterRecordError(f"unknown member(s) {', '.join(unknown)} (OCMF Table 7)", place)
    for name in _INHERITED:
        if name in raw:
            if not isinstance(raw[name], str):
                raise MeterRecordError(f"{name} must be a string", place)
            carried[name] = raw[name]
    tm = raw.get("TM")
    if not isinstance(tm, str):
        raise MeterRecordError("TM (time of the reading) is required and must be a string", place)
    time, status = parse_time(tm, place)
    value = raw.get("RV")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | Decimal)):
        raise MeterRecordError("RV must be a JSON number", place)
    tx = carried.get("TX")
    if tx is not None and tx not in TX_BEGIN | TX_INTERMEDIATE | TX_END:
        raise MeterRecordError(
            f"TX {tx!r} is not an OCMF Table 7 letter (B C X E L R A P S T)", place
        )
    st = carried.get("ST")
    if st is None:
        raise MeterRecordError("ST (meter status, OCMF Table 10) is required", place)
    if value is not None and "RU" not in carried:
        raise MeterRecordError("RU (unit) is required with RV", place)
    return Reading(
        index=index,
        time=time,
        time_text=tm,
        time_status=status,
        transaction=tx,
        value=None if value is None else Decimal(value),
        identification=carried.get("RI"),
        unit=carried.get("RU"),
        current_type=carried.get("RT"),
        error_flags=carried.get("EF", ""),
        status=st,
    )


def parse_time(text: str, where: str = "TM") -> tuple[datetime, str]:
    """Parse an OCMF ``TM`` value into an aware datetime and the time status letter.

    >>> parse_time("2018-07-24T13:22:04,000+0200 S")[0].isoformat()
    '2018-07-24T13:22:04+02:00'
    """
    m = _TM.fullmatch(text)
    if m is None:
        raise MeterRecordError(
            f"TM {text!r} is not <YYYY-MM-DD>T<hh:mm:ss>,<mmm><+hhmm> <U|I|S|R> (OCMF Table 7)",
            where,
        )
    y, mo, d, h, mi, s, ms, sign, oh, om, status = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om))
    try:
        tz = timezone(-offset if sign == "-" else offset)
        when = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), int(ms) * 1000, tz)
    except ValueError as exc:
        raise MeterRecordError(f"TM {text!r}: {exc}", where) from exc
    return when, status
