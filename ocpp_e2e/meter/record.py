"""Parsing of OCMF records ``OCMF|<payload JSON>|<signature JSON>`` (no cryptography here).

Source: SAFE e.V., "Open Charge Metering Format" revision 1.2: section "Sections" (the three
pipe-separated sections), Tables 1-7 (payload fields), Table 8 (signature fields), Table 10
(meter status), Table 19 (time status), Table 20 (units).

Strict on what the signature covers, liberal on the payload's shape: real meters write records
the OCMF text does not foresee (FV 1.0 without ``MS``, ``RV`` as a numeric string or with an
exponent, vendor members inside readings, readings without ``TM`` that share the previous one's,
``FV`` as a number). Such records parse; each deviation becomes a note on
:attr:`OcmfRecord.notes`, never a refusal, because the reference verifiers (S.A.F.E.
Transparenzsoftware, Chargy) accept them. What is refused is only what leaves the record without
a meaning: no JSON, no readings, a reading with no time at all, a quantity that is not a number.

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from .._b64 import Base64Error, b64_decode
from ..errors import MeterRecordError
from .algorithms import DEFAULT_ALGORITHM, resolve_algorithm

__all__ = [
    "PAYLOAD_FIELDS",
    "TX_BEGIN",
    "TX_END",
    "TX_INTERMEDIATE",
    "UNITS",
    "OcmfRecord",
    "Reading",
    "parse_record",
    "parse_time",
]

_HEADER = "OCMF|"
_JSON_WS = " \t\n\r"
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
# OCMF Table 2: a context letter and a counter without leading zeros.
_PG = re.compile(r"([TF])(0|[1-9][0-9]*)")
# OCMF Table 7 "TM": <Y>-<M>-<D>T<h>:<m>:<s>,<ms><+hhmm> <time status>. Accepted around it, each
# with a note: "." for ",", 0-9 fraction digits, "Z" or "+hh:mm" for the offset, no status letter.
_TM = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:([,.])(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})(?: ([UISR]))?"
)
_TM_EXACT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2},\d{3}[+-]\d{4} [UISR]")
# A numeric string as meters write RV ("00000000.000", "0.1000").
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Readings far outside any meter's range are refused rather than carried into arithmetic whose
# cost grows with the exponent (a hostile "RV": 1e999999999).
_MAX_ADJUSTED_EXPONENT = 30
# Signature section members OCMF Table 8 defines; initials reserved for vendors (U-Z) and for
# later processing (A-F) by the "Extension Points in Signature Section" paragraph.
_SIGNATURE_MEMBERS = frozenset({"SA", "SE", "SM", "SD"})
_EXTENSION_INITIALS = frozenset("UVWXYZABCDEF")
_VENDOR_INITIALS = frozenset("UVWXYZ")
#: Payload members OCMF (revisions 1.0 to 1.4) defines; other members are kept as vendor members.
PAYLOAD_FIELDS = frozenset(
    {
        "FV",
        "GI",
        "GS",
        "GV",
        "PG",
        "MV",
        "MM",
        "MS",
        "MF",
        "IS",
        "IL",
        "IF",
        "IT",
        "ID",
        "TT",
        "CT",
        "CI",
        "LC",
        "CF",
        "RD",
    }
)
_STRING_FIELDS = (
    "FV",
    "GI",
    "GS",
    "GV",
    "MV",
    "MM",
    "MS",
    "MF",
    "IL",
    "IT",
    "ID",
    "TT",
    "CT",
    "CI",
)
_READING_FIELDS = frozenset({"TM", "TX", "RV", "RI", "RU", "RT", "CL", "EF", "ST"})
# Reading fields that a later reading of the same record may omit to mean "same as before"
# (OCMF "Readings": "fields that have an identical value to the previous reading are omitted").
# RV and CL are per-reading quantities and never carried over. TM is mandatory by the text, yet
# meters (KEBA, Isabellenhuette) omit it on the further registers of one instant; it is carried
# over with a note.
_INHERITED = ("TX", "RI", "RU", "RT", "EF", "ST")
# JSON nesting deeper than this inside a record is refused before Python's recursion limit is
# reached (a record's real nesting is 3: payload, RD, reading).
_MAX_DEPTH = 32

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
    (OCMF Table 19: U unknown, I informative, S synchronized, R relative; empty when the meter
    wrote none). ``value`` keeps the exact decimal digits the meter signed. ``extra`` holds the
    members OCMF Table 7 does not define (vendor members such as ``XI``, ``UC``), unchanged.
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
    status: str | None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OcmfRecord:
    """A parsed OCMF record. ``payload_bytes`` is exactly what the meter signed.

    ``algorithm`` is the Table 22 identifier the ``SA`` value means (``algorithm_text`` is what
    the record wrote); ``notes`` lists every way the record departs from the OCMF text while
    still being read (none of them affects the signature).
    """

    text: str
    payload_bytes: bytes
    payload: Mapping[str, Any]
    signature_section: Mapping[str, Any]
    algorithm: str
    signature_encoding: str
    signature: bytes
    readings: tuple[Reading, ...]
    algorithm_text: str = DEFAULT_ALGORITHM
    notes: tuple[str, ...] = ()

    @property
    def pagination(self) -> str | None:
        """``PG``, e.g. ``T12`` (context letter and counter); None when absent or not of that form."""
        pg = self.payload.get("PG")
        return pg if isinstance(pg, str) and _PG.fullmatch(pg) else None

    @property
    def pagination_context(self) -> str | None:
        """``T`` (transaction) or ``F`` (fiscal), OCMF Table 2."""
        pg = self.pagination
        return pg[0] if pg else None

    @property
    def pagination_counter(self) -> int | None:
        """The counter of ``PG`` as an integer."""
        pg = self.pagination
        return int(pg[1:]) if pg else None

    @property
    def gateway_serial(self) -> str | None:
        """``GS``, the serial of the signing gateway, if given (an empty ``GS`` is none)."""
        gs = self.payload.get("GS")
        return gs if isinstance(gs, str) and gs else None

    @property
    def meter_serial(self) -> str | None:
        """``MS``, the meter serial (mandatory in OCMF Table 3, yet FV 1.0 meters leave it out)."""
        ms = self.payload.get("MS")
        return ms if isinstance(ms, str) and ms else None

    @property
    def meter(self) -> str:
        """The meter identity used for transaction checks: ``GS/MS`` (OCMF "Relation of Serial
        Numbers": a gateway serving several meters is identified by both serials)."""
        return f"{self.gateway_serial or ''}/{self.meter_serial or ''}"

    @property
    def vendor_members(self) -> dict[str, Any]:
        """Payload members OCMF does not define (``VI``, ``XP``, ``U``, ...), unchanged."""
        return {k: v for k, v in self.payload.items() if k not in PAYLOAD_FIELDS}


def parse_record(data: str | bytes, *, where: str = "record") -> OcmfRecord:
    """Parse one OCMF record; raise :class:`MeterRecordError` naming ``where`` and the problem.

    ``data`` is the record text (bytes must be UTF-8). Nothing is normalized: surrounding
    whitespace, a byte-order mark or a lower-case header are refused rather than guessed at.
    This function never raises anything but :class:`MeterRecordError` for any input.
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
        object_pairs_hook=_no_duplicates, parse_float=_decimal, parse_constant=_no_constant
    )
    pos = _skip_ws(text, start)
    _check_depth(text, where)
    try:
        payload, end = decoder.raw_decode(text, pos)
    except _DuplicateMember as exc:
        raise MeterRecordError(f"payload section: duplicate member {exc.name!r}", where) from exc
    except (ValueError, RecursionError) as exc:
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
    except (ValueError, RecursionError) as exc:
        raise MeterRecordError(f"signature section is not one JSON object: {exc}", where) from exc
    if not isinstance(payload, dict):
        raise MeterRecordError("payload section must be a JSON object", where)
    if not isinstance(signature_section, dict):
        raise MeterRecordError("signature section must be a JSON object", where)
    notes: list[str] = []
    sa, encoding, signature = _signature(signature_section, where, notes)
    algorithm, spelling = resolve_algorithm(sa)
    if spelling:
        notes.append(spelling)
    readings = _payload(payload, where, notes)
    return OcmfRecord(
        text=text,
        payload_bytes=payload_bytes,
        payload=payload,
        signature_section=signature_section,
        algorithm=algorithm,
        signature_encoding=encoding,
        signature=signature,
        readings=readings,
        algorithm_text=sa,
        notes=tuple(notes),
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


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except (ArithmeticError, ValueError) as exc:  # pragma: no cover - json only passes numbers
        raise ValueError(f"number {text[:40]!r} out of range") from exc


def _check_depth(text: str, where: str) -> None:
    # Count brackets outside strings; the json module would otherwise recurse once per level.
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                raise MeterRecordError(
                    f"JSON nested deeper than {_MAX_DEPTH} levels (a record needs 3)", where
                )
        elif ch in "]}":
            depth -= 1


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _JSON_WS:
        pos += 1
    return pos


def _signature(section: Mapping[str, Any], where: str, notes: list[str]) -> tuple[str, str, bytes]:
    place = f"{where}: signature section"
    for name in section:
        if name not in _SIGNATURE_MEMBERS and name[:1] not in _EXTENSION_INITIALS:
            notes.append(
                f"signature section member {name!r} is neither in OCMF Table 8 nor an extension "
                "point (A-F, U-Z); kept, not covered by the signature"
            )
        if name in _SIGNATURE_MEMBERS and not isinstance(section[name], str):
            raise MeterRecordError(f"{name} must be a string", place)
    algorithm = section.get("SA", DEFAULT_ALGORITHM)
    encoding = section.get("SE", "hex")
    if encoding != encoding.lower():
        notes.append(f"SE {encoding!r} read as {encoding.lower()!r}")
        encoding = encoding.lower()
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


def _payload(payload: Mapping[str, Any], where: str, notes: list[str]) -> tuple[Reading, ...]:
    place = f"{where}: payload"
    pg = payload.get("PG")
    if not isinstance(pg, str) or _PG.fullmatch(pg) is None:
        notes.append(
            f"PG {pg!r} is not T or F and a counter (OCMF Table 2): pagination is not checked"
            if pg is not None
            else "PG (pagination) is missing: pagination is not checked"
        )
    ms = payload.get("MS")
    if not isinstance(ms, str) or not ms:
        gs = payload.get("GS")
        notes.append(
            "MS (meter serial) is missing or empty, as FV 1.0 meters write: the meter is "
            + (f"identified by GS {gs!r}" if isinstance(gs, str) and gs else "not identified")
        )
    for name in _STRING_FIELDS:
        if name in payload and not isinstance(payload[name], str):
            notes.append(f"{name} is {_json_type(payload[name])}, OCMF writes a string")
    if "IS" in payload and not isinstance(payload["IS"], bool):
        notes.append(f"IS is {_json_type(payload['IS'])}, OCMF writes true or false")
    vendor = sorted(k for k in payload if k not in PAYLOAD_FIELDS)
    if vendor:
        notes.append(f"vendor member(s) {', '.join(vendor)} kept (not defined by OCMF)")
    rd = payload.get("RD")
    if not isinstance(rd, list) or not rd:
        raise MeterRecordError("RD must be a non-empty array of readings (OCMF Table 7)", place)
    readings: list[Reading] = []
    carried: dict[str, Any] = {}
    for i, raw in enumerate(rd):
        readings.append(_reading(i, raw, carried, f"{place}.RD[{i}]", notes))
    return tuple(readings)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "an array" if isinstance(value, list) else "an object"


def _reading(
    index: int, raw: Any, carried: dict[str, Any], place: str, notes: list[str]
) -> Reading:
    if not isinstance(raw, dict):
        raise MeterRecordError("a reading must be a JSON object", place)
    short = place[place.rfind("RD[") :]
    extra = {k: v for k, v in raw.items() if k not in _READING_FIELDS}
    if extra:
        notes.append(
            f"{short}: member(s) {', '.join(sorted(extra))} kept (not in OCMF Table 7"
            + ("" if all(k[:1] in _VENDOR_INITIALS for k in extra) else "; not vendor initials")
            + ")"
        )
    for name in _INHERITED:
        if name in raw:
            if not isinstance(raw[name], str):
                raise MeterRecordError(f"{name} must be a string", place)
            carried[name] = raw[name]
    tm = raw.get("TM")
    if tm is None and "TM" in carried:
        tm = carried["TM"]
        notes.append(f"{short}: no TM; the previous reading's time applies")
    if not isinstance(tm, str):
        raise MeterRecordError("TM (time of the reading) is required and must be a string", place)
    carried["TM"] = tm
    time, status = parse_time(tm, place)
    if _TM_EXACT.fullmatch(tm) is None:
        notes.append(
            f"{short}: TM {tm!r} departs from <YYYY-MM-DD>T<hh:mm:ss>,<mmm><+hhmm> <U|I|S|R>"
        )
    value = _value(raw.get("RV"), place, short, notes)
    tx = carried.get("TX")
    if tx is not None and tx not in TX_BEGIN | TX_INTERMEDIATE | TX_END:
        raise MeterRecordError(
            f"TX {tx!r} is not an OCMF Table 7 letter (B C X E L R A P S T)", place
        )
    st = carried.get("ST")
    if st is None:
        notes.append(f"{short}: no ST (meter status, OCMF Table 10)")
    if value is not None and "RU" not in carried:
        notes.append(f"{short}: RV without RU (unit)")
    return Reading(
        index=index,
        time=time,
        time_text=tm,
        time_status=status,
        transaction=tx,
        value=value,
        identification=carried.get("RI"),
        unit=carried.get("RU"),
        current_type=carried.get("RT"),
        error_flags=carried.get("EF", ""),
        status=st,
        extra=extra,
    )


def _value(raw: Any, place: str, short: str, notes: list[str]) -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal | str):
        raise MeterRecordError("RV must be a number or a numeric string", place)
    if isinstance(raw, str):
        # DZG meters right-align the digits with spaces ("       9.038").
        if _NUMERIC.fullmatch(raw.strip(" ")) is None:
            raise MeterRecordError(f"RV {raw[:40]!r} is not a number", place)
        notes.append(f"{short}: RV written as the string {raw!r} (read as that exact decimal)")
        raw = raw.strip(" ")
    try:
        value = Decimal(raw)
    except ArithmeticError as exc:  # pragma: no cover - the pattern admits only decimals
        raise MeterRecordError(f"RV is not a number ({exc})", place) from exc
    if value and abs(value.adjusted()) > _MAX_ADJUSTED_EXPONENT:
        raise MeterRecordError(
            f"RV {str(raw)[:40]} is outside any meter's range (exponent beyond "
            f"±{_MAX_ADJUSTED_EXPONENT})",
            place,
        )
    return value


def parse_time(text: str, where: str = "TM") -> tuple[datetime, str]:
    """Parse an OCMF ``TM`` value into an aware datetime and the time status letter.

    >>> parse_time("2018-07-24T13:22:04,000+0200 S")[0].isoformat()
    '2018-07-24T13:22:04+02:00'
    """
    m = _TM.fullmatch(text)
    if m is None:
        raise MeterRecordError(
            f"TM {text[:60]!r} is not <YYYY-MM-DD>T<hh:mm:ss>,<mmm><+hhmm> <U|I|S|R> (OCMF Table 7)",
            where,
        )
    y, mo, d, h, mi, s, _sep, frac, off, status = m.groups()
    if off == "Z":
        offset = timedelta(0)
    else:
        digits = off[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        offset = -offset if off[0] == "-" else offset
    micro = int((frac or "0").ljust(6, "0")[:6])
    try:
        tz = timezone(offset)
        when = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tz)
    except ValueError as exc:
        raise MeterRecordError(f"TM {text!r}: {exc}", where) from exc
    return when, status or ""
