"""SPEC §6 ticket structures as typed classes: ``ChargingTicket`` and ``TicketPresentation``.

``from_dict`` refuses unknown members and wrong types with an :class:`~ocpp_e2e.errors.TicketError`
naming the JSON path; ``to_dict`` produces the wire form. Signatures are carried as received (the
core verifies them); these classes never judge them.

>>> scope = TicketScope(evses=("DE*GEF*E*",))
>>> scope.matches(station_id="cs-0001", evse_id="de*gef*e123*1", operator_id=None)
True
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .._b64 import Base64Error, b64url_decode, b64url_encode
from .._time import format_timestamp as _format_timestamp
from .._time import parse_spec_timestamp
from ..context import identity_matches
from ..errors import KeyLoadError, TicketError
from ..keys import key_id, load_spki

__all__ = [
    "PRESENTATION_TYPE",
    "TICKET_TYPE",
    "ChargingTicket",
    "Money",
    "TariffRef",
    "TicketLimits",
    "TicketPresentation",
    "TicketScope",
    "TicketVerdict",
    "format_timestamp",
    "parse_timestamp",
    "pattern_matches",
]

TICKET_TYPE = "ChargingTicket"
PRESENTATION_TYPE = "TicketPresentation"

_CURRENCY = re.compile(r"[A-Z]{3}")  # ISO 4217 alphabetic code
_MAX_ID = 255
_MAX_TARIFF_ID = 60  # OCPP 2.1 TariffType.tariffId maxLength
_CHALLENGE_BYTES = (16, 64)


class TicketVerdict(enum.StrEnum):
    """What a station decides about one ticket presentation; each comes with a reason."""

    ACCEPTED = "accepted"
    MALFORMED = "malformed"
    TAMPERED = "tampered"
    UNTRUSTED_ISSUER = "untrusted-issuer"
    ISSUER_MISMATCH = "issuer-mismatch"
    NOT_YET_VALID = "not-yet-valid"
    EXPIRED = "expired"
    WRONG_HOLDER_KEY = "wrong-holder-key"
    WRONG_STATION = "wrong-station"
    WRONG_EVSE = "wrong-evse"
    OUT_OF_SCOPE = "out-of-scope"
    TARIFF_NOT_COVERED = "tariff-not-covered"
    UNKNOWN_CHALLENGE = "unknown-challenge"
    STALE_CHALLENGE = "stale-challenge"
    REPLAYED = "replayed"
    SESSIONS_EXHAUSTED = "sessions-exhausted"
    ENERGY_EXHAUSTED = "energy-exhausted"
    COST_EXHAUSTED = "cost-exhausted"


# --------------------------------------------------------------------------- helpers


def parse_timestamp(text: object, where: str) -> datetime:
    """Read a SPEC §1 UTC timestamp (``2026-05-01T12:00:00Z``, optional ``.mmm``).

    Tickets use the signature timestamp form for ``notBefore``/``notAfter`` too: one time format.
    """
    if not isinstance(text, str):
        raise TicketError("must be a UTC timestamp like 2026-05-01T12:00:00Z", where)
    try:
        return parse_spec_timestamp(text)
    except ValueError as exc:
        raise TicketError(f"{exc}, got {text!r}", where) from exc


def format_timestamp(moment: datetime) -> str:
    """Write a SPEC §1 timestamp (UTC, milliseconds); a naive datetime is refused."""
    if moment.tzinfo is None:
        raise TicketError(f"time {moment.isoformat()} has no time zone; give an aware datetime")
    return _format_timestamp(moment)


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TicketError("must be an object", where)
    return value


def _members(
    obj: Mapping[str, Any], where: str, *, required: Sequence[str], optional: Sequence[str] = ()
) -> None:
    unknown = sorted(set(obj) - set(required) - set(optional))
    if unknown:
        raise TicketError(f"unknown member(s) {', '.join(unknown)}", where)
    missing = [name for name in required if name not in obj]
    if missing:
        raise TicketError(f"missing member(s) {', '.join(missing)}", where)


def _identifier(value: object, where: str, *, max_len: int = _MAX_ID) -> str:
    if not isinstance(value, str) or not value:
        raise TicketError("must be a non-empty string", where)
    if len(value) > max_len:
        raise TicketError(f"longer than {max_len} characters", where)
    if any(c.isspace() or not c.isprintable() for c in value):
        raise TicketError("must be printable text without spaces", where)
    return value


def _integer(value: object, where: str, *, minimum: int) -> int:
    # 5000 and 5000.0 are the same I-JSON number (SPEC §2); the parser may give either type.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TicketError("must be an integer", where)
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise TicketError("must be an integer", where)
    number = int(value)
    if number < minimum:
        raise TicketError(f"must be at least {minimum}", where)
    return number


def _decimal(value: object, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TicketError("must be a number", where)
    if isinstance(value, float) and not math.isfinite(value):
        raise TicketError("must be a finite number", where)
    # SPEC §7: numbers are compared as decimals of their shortest round-trip form (repr).
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _is_json_number(amount: Decimal) -> bool:
    """Whether a finite ``amount`` travels exactly as an I-JSON number (SPEC §2)."""
    if amount == amount.to_integral_value() and abs(amount) <= 2**53 - 1:
        return True
    number = float(amount)  # beyond a double's range: inf, not a long computation
    return math.isfinite(number) and Decimal(repr(number)) == amount


def _json_number(amount: Decimal) -> int | float:
    as_int = int(amount)
    return as_int if Decimal(as_int) == amount else float(amount)


def _b64url_bytes(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise TicketError("must be a base64url string", where)
    try:
        return b64url_decode(value)
    except Base64Error as exc:
        raise TicketError(str(exc), where) from exc


# --------------------------------------------------------------------------- scope


#: SPEC §6 identity patterns (only a trailing ``*`` is a wildcard, ASCII case-insensitive): the
#: one matcher of :func:`ocpp_e2e.context.identity_matches`, under the name tickets use.
pattern_matches = identity_matches


@dataclass(frozen=True)
class TicketScope:
    """Where a ticket may be used: patterns for operator, station and EVSE identities.

    A list that is absent (None) does not restrict; a list that is present must be non-empty and
    the identity must match one of its patterns. At least one list must be present, so that an
    issuer always says where a ticket is good.
    """

    operators: tuple[str, ...] | None = None
    stations: tuple[str, ...] | None = None
    evses: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.operators is None and self.stations is None and self.evses is None:
            raise TicketError("scope needs at least one of operators, stations, evses", "$.scope")
        for name in ("operators", "stations", "evses"):
            patterns = getattr(self, name)
            if patterns is None:
                continue
            if not patterns:
                raise TicketError(
                    "an empty list matches nothing; omit it to allow any", f"$.scope.{name}"
                )
            for i, pattern in enumerate(patterns):
                _identifier(pattern, f"$.scope.{name}[{i}]")

    @classmethod
    def from_dict(cls, value: object, where: str = "$.scope") -> TicketScope:
        """Read a ``scope`` object; unknown members are refused."""
        obj = _object(value, where)
        _members(obj, where, required=(), optional=("operators", "stations", "evses"))
        lists: dict[str, tuple[str, ...] | None] = {}
        for name in ("operators", "stations", "evses"):
            raw = obj.get(name)
            if raw is None and name not in obj:
                lists[name] = None
                continue
            if not isinstance(raw, list):
                raise TicketError("must be a list of identity patterns", f"{where}.{name}")
            lists[name] = tuple(_identifier(p, f"{where}.{name}[{i}]") for i, p in enumerate(raw))
        return cls(**lists)

    def to_dict(self) -> dict[str, Any]:
        """The wire form (absent lists are omitted)."""
        out: dict[str, Any] = {}
        for name in ("operators", "stations", "evses"):
            patterns = getattr(self, name)
            if patterns is not None:
                out[name] = list(patterns)
        return out

    def mismatch(self, *, station_id: str, evse_id: str, operator_id: str | None) -> str | None:
        """Why the identities are out of scope, or None when they are in scope."""
        if self.operators is not None:
            if operator_id is None:
                return (
                    f"the ticket is limited to operators {list(self.operators)} and this station "
                    "has no operator id configured"
                )
            if not any(pattern_matches(p, operator_id) for p in self.operators):
                return f"operator {operator_id!r} matches none of {list(self.operators)}"
        if self.stations is not None and not any(
            pattern_matches(p, station_id) for p in self.stations
        ):
            return f"station {station_id!r} matches none of {list(self.stations)}"
        if self.evses is not None and not any(pattern_matches(p, evse_id) for p in self.evses):
            return f"EVSE {evse_id!r} matches none of {list(self.evses)}"
        return None

    def matches(self, *, station_id: str, evse_id: str, operator_id: str | None) -> bool:
        """True when the station, EVSE and operator identities are all in scope."""
        return (
            self.mismatch(station_id=station_id, evse_id=evse_id, operator_id=operator_id) is None
        )


# --------------------------------------------------------------------------- limits, tariffs


@dataclass(frozen=True)
class Money:
    """An amount in a currency (ISO 4217 code), exact."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not self.amount.is_finite() or self.amount <= 0:
            raise TicketError(
                f"amount must be a positive number, got {self.amount}", "$.limits.maxCost.amount"
            )
        if not _is_json_number(self.amount):
            # Checked before anything converts it: int(Decimal("1e999999")) alone takes minutes.
            raise TicketError(
                f"amount {self.amount} is not a number I-JSON can carry exactly (an integer up "
                "to 2^53 − 1 or a decimal a double holds)",
                "$.limits.maxCost.amount",
            )
        if _CURRENCY.fullmatch(self.currency) is None:
            raise TicketError(
                f"currency must be an ISO 4217 code like EUR, got {self.currency!r}",
                "$.limits.maxCost.currency",
            )

    @classmethod
    def from_dict(cls, value: object, where: str = "$.limits.maxCost") -> Money:
        """Read ``{"amount": number, "currency": "EUR"}``."""
        obj = _object(value, where)
        _members(obj, where, required=("amount", "currency"))
        currency = obj["currency"]
        if not isinstance(currency, str):
            raise TicketError("must be a string", f"{where}.currency")
        return cls(_decimal(obj["amount"], f"{where}.amount"), currency)

    def to_dict(self) -> dict[str, Any]:
        """The wire form (amount as a JSON number)."""
        return {"amount": _json_number(self.amount), "currency": self.currency}


@dataclass(frozen=True)
class TicketLimits:
    """How much a ticket allows at one station: sessions (required), energy and cost (optional).

    ``maxSessions`` is required because it is the one limit a station can always enforce offline at
    authorization time; energy and cost are enforced from what the station reports to its ledger.
    """

    max_sessions: int
    max_energy_wh: int | None = None
    max_cost: Money | None = None

    def __post_init__(self) -> None:
        if self.max_sessions < 1:
            raise TicketError("must be at least 1", "$.limits.maxSessions")
        if self.max_energy_wh is not None and self.max_energy_wh < 1:
            raise TicketError("must be at least 1", "$.limits.maxEnergyWh")

    @classmethod
    def from_dict(cls, value: object, where: str = "$.limits") -> TicketLimits:
        """Read a ``limits`` object; unknown members are refused."""
        obj = _object(value, where)
        _members(obj, where, required=("maxSessions",), optional=("maxEnergyWh", "maxCost"))
        energy = obj.get("maxEnergyWh")
        cost = obj.get("maxCost")
        return cls(
            max_sessions=_integer(obj["maxSessions"], f"{where}.maxSessions", minimum=1),
            max_energy_wh=None
            if energy is None
            else _integer(energy, f"{where}.maxEnergyWh", minimum=1),
            max_cost=None if cost is None else Money.from_dict(cost, f"{where}.maxCost"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The wire form (absent limits are omitted)."""
        out: dict[str, Any] = {"maxSessions": self.max_sessions}
        if self.max_energy_wh is not None:
            out["maxEnergyWh"] = self.max_energy_wh
        if self.max_cost is not None:
            out["maxCost"] = self.max_cost.to_dict()
        return out


@dataclass(frozen=True)
class TariffRef:
    """A reference to a signed tariff by ``tariffId`` and ``digest`` (SPEC §6)."""

    tariff_id: str
    digest: str

    def __post_init__(self) -> None:
        _identifier(self.tariff_id, "$.tariffId", max_len=_MAX_TARIFF_ID)
        try:
            raw = b64url_decode(self.digest)
        except Base64Error as exc:
            raise TicketError(f"digest: {exc}", "$.digest") from exc
        if len(raw) != 32:
            raise TicketError(
                "digest must be base64url of a SHA-256 value (43 characters)", "$.digest"
            )

    @classmethod
    def from_dict(cls, value: object, where: str) -> TariffRef:
        """Read ``{"tariffId", "digest"}``."""
        obj = _object(value, where)
        _members(obj, where, required=("tariffId", "digest"))
        tariff_id = _identifier(obj["tariffId"], f"{where}.tariffId", max_len=_MAX_TARIFF_ID)
        digest = obj["digest"]
        if not isinstance(digest, str):
            raise TicketError("must be a string", f"{where}.digest")
        try:
            return cls(tariff_id, digest)
        except TicketError as exc:
            raise TicketError(exc.reason, f"{where}.digest") from exc

    @classmethod
    def parse(cls, text: str) -> TariffRef:
        """Read the command-line form ``TARIFF_ID=DIGEST``."""
        tariff_id, sep, digest = text.partition("=")
        if not sep:
            raise TicketError(f"tariff reference {text!r} must be TARIFF_ID=DIGEST")
        return cls(tariff_id, digest)

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {"tariffId": self.tariff_id, "digest": self.digest}


# --------------------------------------------------------------------------- structures


def _signatures(obj: Mapping[str, Any], where: str) -> tuple[Mapping[str, Any], ...]:
    raw = obj.get("signatures")
    if raw is None and "signatures" not in obj:
        return ()
    if not isinstance(raw, list) or not all(isinstance(s, Mapping) for s in raw):
        raise TicketError("must be a list of signature objects", f"{where}.signatures")
    return tuple(raw)


def _holder_key(value: object, where: str) -> bytes:
    der = _b64url_bytes(value, where)
    try:
        load_spki(der)
    except KeyLoadError as exc:
        raise TicketError(str(exc), where) from exc
    return der


@dataclass(frozen=True)
class ChargingTicket:
    """A SPEC §6 ``ChargingTicket``: the issuer's promise that ``holderKey``'s holder may charge.

    ``signatures`` are kept exactly as read; :func:`ocpp_e2e.tickets.verify.verify_ticket` judges
    them.
    """

    ticket_id: str
    issuer: str
    not_before: datetime
    not_after: datetime
    holder_key: bytes
    scope: TicketScope
    limits: TicketLimits
    tariffs: tuple[TariffRef, ...] = ()
    signatures: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        _identifier(self.ticket_id, "$.ticketId")
        _identifier(self.issuer, "$.issuer")
        if self.not_before.tzinfo is None or self.not_after.tzinfo is None:
            raise TicketError("notBefore and notAfter need a time zone", "$.notBefore")
        if self.not_after <= self.not_before:
            raise TicketError("notAfter must be later than notBefore", "$.notAfter")
        _holder_key(b64url_encode(self.holder_key), "$.holderKey")

    @property
    def holder_key_id(self) -> str:
        """The SPEC key id of the holder key."""
        return key_id(self.holder_key)

    def valid_at(self, now: datetime) -> bool:
        """True when ``notBefore <= now <= notAfter``."""
        return self.not_before <= now <= self.not_after

    @classmethod
    def from_dict(cls, value: object, where: str = "$") -> ChargingTicket:
        """Read a ticket (signed or not); unknown members and wrong types are refused.

        ``where`` is the JSON path of the ticket in its document (``$.ticket`` inside a
        presentation); error messages name paths below it.
        """
        try:
            return cls._from_dict(value)
        except TicketError as exc:
            if where != "$" and exc.where is not None and exc.where.startswith("$"):
                raise TicketError(exc.reason, where + exc.where[1:]) from exc
            raise

    @classmethod
    def _from_dict(cls, value: object) -> ChargingTicket:
        obj = _object(value, "$")
        _members(
            obj,
            "$",
            required=(
                "type",
                "ticketId",
                "issuer",
                "notBefore",
                "notAfter",
                "holderKey",
                "scope",
                "limits",
            ),
            optional=("tariffs", "signatures"),
        )
        if obj["type"] != TICKET_TYPE:
            raise TicketError(f"must be {TICKET_TYPE!r}, got {obj['type']!r}", "$.type")
        tariffs_raw = obj.get("tariffs", [])
        if not isinstance(tariffs_raw, list):
            raise TicketError("must be a list of {tariffId, digest}", "$.tariffs")
        return cls(
            ticket_id=_identifier(obj["ticketId"], "$.ticketId"),
            issuer=_identifier(obj["issuer"], "$.issuer"),
            not_before=parse_timestamp(obj["notBefore"], "$.notBefore"),
            not_after=parse_timestamp(obj["notAfter"], "$.notAfter"),
            holder_key=_holder_key(obj["holderKey"], "$.holderKey"),
            scope=TicketScope.from_dict(obj["scope"], "$.scope"),
            limits=TicketLimits.from_dict(obj["limits"], "$.limits"),
            tariffs=tuple(
                TariffRef.from_dict(t, f"$.tariffs[{i}]") for i, t in enumerate(tariffs_raw)
            ),
            signatures=_signatures(obj, "$"),
        )

    def to_dict(self, *, signatures: bool = True) -> dict[str, Any]:
        """The wire form, with the signatures unless ``signatures=False``."""
        out: dict[str, Any] = {
            "type": TICKET_TYPE,
            "ticketId": self.ticket_id,
            "issuer": self.issuer,
            "notBefore": format_timestamp(self.not_before),
            "notAfter": format_timestamp(self.not_after),
            "holderKey": b64url_encode(self.holder_key),
            "scope": self.scope.to_dict(),
            "limits": self.limits.to_dict(),
        }
        if self.tariffs:
            out["tariffs"] = [t.to_dict() for t in self.tariffs]
        if signatures and self.signatures:
            out["signatures"] = [dict(s) for s in self.signatures]
        return out


def _challenge(value: object, where: str) -> str:
    raw = _b64url_bytes(value, where)
    low, high = _CHALLENGE_BYTES
    if not low <= len(raw) <= high:
        raise TicketError(f"a challenge is base64url of {low} to {high} random bytes", where)
    assert isinstance(value, str)
    return value


@dataclass(frozen=True)
class TicketPresentation:
    """A SPEC §6 ``TicketPresentation``: the holder's proof of possession over a station challenge.

    ``ticket`` is the embedded signed ticket exactly as received (verification needs its bytes'
    members, not a re-serialized model); ``parsed_ticket`` is its typed view.
    """

    ticket: Mapping[str, Any]
    parsed_ticket: ChargingTicket
    station_id: str
    evse_id: str
    challenge: str
    timestamp: datetime
    signatures: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)

    @classmethod
    def from_dict(cls, value: object, where: str = "$") -> TicketPresentation:
        """Read a presentation; unknown members and wrong types are refused."""
        obj = _object(value, where)
        _members(
            obj,
            where,
            required=("type", "ticket", "stationId", "evseId", "challenge", "timestamp"),
            optional=("signatures",),
        )
        if obj["type"] != PRESENTATION_TYPE:
            raise TicketError(
                f"must be {PRESENTATION_TYPE!r}, got {obj['type']!r}", f"{where}.type"
            )
        ticket = _object(obj["ticket"], f"{where}.ticket")
        return cls(
            ticket=ticket,
            parsed_ticket=ChargingTicket.from_dict(ticket, f"{where}.ticket"),
            station_id=_identifier(obj["stationId"], f"{where}.stationId"),
            evse_id=_identifier(obj["evseId"], f"{where}.evseId"),
            challenge=_challenge(obj["challenge"], f"{where}.challenge"),
            timestamp=parse_timestamp(obj["timestamp"], f"{where}.timestamp"),
            signatures=_signatures(obj, where),
        )

    def to_dict(self, *, signatures: bool = True) -> dict[str, Any]:
        """The wire form, with the signatures unless ``signatures=False``."""
        out: dict[str, Any] = {
            "type": PRESENTATION_TYPE,
            "ticket": dict(self.ticket),
            "stationId": self.station_id,
            "evseId": self.evse_id,
            "challenge": self.challenge,
            "timestamp": format_timestamp(self.timestamp),
        }
        if signatures and self.signatures:
            out["signatures"] = [dict(s) for s in self.signatures]
        return out
