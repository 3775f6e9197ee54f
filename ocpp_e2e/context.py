"""SPEC §3: CONTEXT objects, signing payloads and the pairing of responses with their CALL.

>>> frame_context("2.0.1", "CS-0001", "Reset", "request")
{'ocpp': '2.0.1', 'station': 'cs-0001', 'action': 'Reset', 'kind': 'request'}
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ._b64 import b64url_encode
from .canonical import _dumps_parsed, dumps
from .errors import InputError
from .frames import Frame, MessageType
from .model import Direction, Kind
from .versions import profile

__all__ = [
    "STRUCTURE_TYPES",
    "VENDOR_ID",
    "CallTracker",
    "PendingCall",
    "find_signatures",
    "first_signature_value",
    "frame_context",
    "frame_kind",
    "frame_signing_payload",
    "identity_matches",
    "normalize_station",
    "request_digest",
    "same_identity",
    "signing_payload",
    "station_from_url_path",
    "structure_context",
]

VENDOR_ID = "org.ocpp-e2e"
STRUCTURE_TYPES = (
    "Tariff",
    "ChargingTicket",
    "TicketPresentation",
    "SignaturePolicy",
    "CostReceipt",
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_KINDS = {
    MessageType.CALL: Kind.REQUEST,
    MessageType.SEND: Kind.SEND,
    MessageType.CALLRESULT: Kind.RESPONSE,
    MessageType.CALLERROR: Kind.ERROR,
    MessageType.CALLRESULTERROR: Kind.RESULT_ERROR,
}


def normalize_station(identity: str) -> str:
    """The CONTEXT form of a station identity: ASCII-lowercased (SPEC §3).

    Give the identity as decoded from the connection URL (see :func:`station_from_url_path`).
    Only A-Z are lowered, so that the result does not depend on Unicode case tables.
    """
    # For ASCII text str.lower() is exactly A-Z -> a-z, and much faster than translate().
    return identity.lower() if identity.isascii() else identity.translate(_ASCII_LOWER)


def same_identity(a: str, b: str) -> bool:
    """Whether two identities (stations, EVSEs, certificate identities) are the same: ASCII
    case-insensitive, as SPEC §3 and §5 compare station identities."""
    return normalize_station(a) == normalize_station(b)


def identity_matches(pattern: str, identity: str) -> bool:
    """The SPEC's identity patterns (§6 ticket scopes, §7 role ``identities``): only a trailing
    ``*`` is a wildcard (a prefix match), any other ``*`` is literal; compared ASCII
    case-insensitively like the identities themselves.

    >>> identity_matches("dso-*", "DSO-example"), identity_matches("dso-*", "xdso-1")
    (True, False)
    >>> identity_matches("DE*GEF*E*", "DE*GEF*E123*1"), identity_matches("DE*F", "DE-XYZ-F")
    (True, False)
    """
    p, v = normalize_station(pattern), normalize_station(identity)
    if p.endswith("*"):
        return v.startswith(p[:-1])
    return v == p


def station_from_url_path(segment: str) -> str:
    """Percent-decode the last path segment of a connection URL: ``RDAM%20123`` → ``RDAM 123``."""
    return unquote(segment, errors="strict")


def frame_kind(frame: Frame) -> Kind:
    return _KINDS[frame.type]


def frame_context(
    ocpp: str, station: str, action: str, kind: Kind | str, request: str | None = None
) -> dict[str, Any]:
    """The CONTEXT of a frame (SPEC §3); ``request`` is required for responses and errors."""
    profile(ocpp)
    kind = Kind(kind)
    ctx: dict[str, Any] = {
        "ocpp": ocpp,
        "station": normalize_station(station),
        "action": action,
        "kind": kind.value,
    }
    if kind in (Kind.RESPONSE, Kind.ERROR, Kind.RESULT_ERROR):
        if request is None:
            raise InputError(f"a {kind.value} context needs the digest of the CALL it answers")
        ctx["request"] = request
    return ctx


def structure_context(type_: str) -> dict[str, Any]:
    """The CONTEXT of a standalone structure (SPEC §6): ``{"type": type_}``."""
    if type_ not in STRUCTURE_TYPES:
        raise InputError(
            f"unknown structure type {type_!r}; expected one of {', '.join(STRUCTURE_TYPES)}"
        )
    return {"type": type_}


def find_signatures(obj: dict[str, Any]) -> tuple[str | None, Any, list[str]]:
    """Locate the signatures of ``obj``: (carrier, value, problems). Carrier is ``top``/``customData``."""
    top = "signatures" in obj
    custom = obj.get("customData")
    nested = isinstance(custom, dict) and "signatures" in custom
    if top and nested:
        return None, None, ["signatures appear both at top level and in customData"]
    if top:
        return "top", obj["signatures"], []
    if nested:
        assert isinstance(custom, dict)
        return "customData", custom["signatures"], []
    return None, None, []


def signing_payload(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without its signatures (SPEC §3), without copying more than two levels.

    ``signatures`` leaves whichever carrier held it; then a ``customData`` that is exactly
    ``{"vendorId": "org.ocpp-e2e"}`` leaves too.
    """
    out = obj
    if "signatures" in obj:
        out = {k: v for k, v in obj.items() if k != "signatures"}
    custom = out.get("customData")
    if isinstance(custom, dict):
        rest = len(custom) - 1 if "signatures" in custom else len(custom)
        if rest == 1 and custom.get("vendorId") == VENDOR_ID:
            # Only our carrier (with or without signatures): the payload is as if it never had it.
            out = {k: v for k, v in out.items() if k != "customData"}
        elif rest != len(custom):
            custom = {k: v for k, v in custom.items() if k != "signatures"}
            out = {**out, "customData": custom}
    return out


def frame_signing_payload(frame: Frame) -> dict[str, Any]:
    """The signing payload of a frame; for errors the details lose their signatures (SPEC §3)."""
    if frame.error_details is not None:
        return {**frame.payload, "errorDetails": signing_payload(frame.error_details)}
    return signing_payload(frame.payload)


def first_signature_value(call: Frame) -> str | None:
    """V of SPEC §3: the ``value`` of the CALL's first signature (``signatures[0]`` in its
    carrier), or None when the CALL carries none (or its first signature has no string value)."""
    _where, sigs, problems = find_signatures(call.payload)
    if problems or not isinstance(sigs, list) or not sigs or not isinstance(sigs[0], dict):
        return None
    value = sigs[0].get("value")
    return value if isinstance(value, str) else None


def request_digest(call: Frame) -> str:
    """R of SPEC §3: base64url SHA-256 of the JCS of ``{"call": P, "signature": V}``, P the CALL's
    signing payload and V the value of its first signature (or null).

    Binding V means a signed answer cannot be moved even to an identical command sent later: its
    nonce, and so V, differ.
    """
    if call.type is not MessageType.CALL:
        raise InputError("only a CALL can be answered")
    value = first_signature_value(call)
    payload = _dumps_parsed(frame_signing_payload(call), call.jcs_safe)
    # RFC 8785 orders "call" before "signature"; V is base64url (ASCII without escapes) or null.
    tail = b"null" if value is None else dumps(value)
    canonical = b'{"call":' + payload + b',"signature":' + tail + b"}"
    return b64url_encode(hashlib.sha256(canonical).digest())


@dataclass(frozen=True, slots=True)
class PendingCall:
    """What a response needs of the CALL it answers: the action and the request digest R.

    ``request`` is None for a CALL without signatures that holds what RFC 8785 cannot write (an
    integer beyond ±(2^53−1), read exactly under SPEC §2): its answer is paired, but signatures
    cannot be bound to it.
    """

    message_id: str
    action: str
    request: str | None

    @classmethod
    def of(cls, call: Frame) -> PendingCall:
        assert call.action is not None
        try:
            request = request_digest(call)
        except InputError:
            if first_signature_value(call) is not None:
                raise
            request = None
        return cls(call.message_id, call.action, request)


class CallTracker:
    """Pairs responses with the CALL of the same id, per station and direction (SPEC §3).

    A CALL travelling in one direction is answered in the other by a CALLRESULT or CALLERROR. An
    OCPP 2.1 CALLRESULTERROR reports a CALLRESULT its receiver could not process, so it travels
    the CALL's way, after the CALLRESULT: answered CALLs are therefore remembered too. At most
    ``limit`` CALLs are kept per connection and direction, in each of the two tables; the oldest
    are forgotten first. A CALL is kept as its :class:`PendingCall` (id, action, request digest R),
    never as the parsed frame: memory stays bounded by the number of CALLs, whatever their size
    (20,000 unanswered 30 KB CALLs held 2.5 GiB as parsed frames).

    >>> from ocpp_e2e.frames import parse_frame
    >>> tracker = CallTracker()
    >>> tracker.observe(parse_frame('[2,"1","Reset",{"type":"Immediate"}]'), "cs-1", Direction.TO_STATION)
    >>> tracker.observe(parse_frame('[3,"1",{"status":"Accepted"}]'), "cs-1", Direction.TO_CSMS).action
    'Reset'
    """

    def __init__(self, limit: int = 1024) -> None:
        self._limit = limit
        # A Frame only for a CALL whose R cannot be computed: answering it raises, as it did.
        self._pending: dict[tuple[str, Direction], OrderedDict[str, PendingCall | Frame]] = {}
        self._answered: dict[tuple[str, Direction], OrderedDict[str, PendingCall]] = {}

    def _remember(
        self,
        table: dict[tuple[str, Direction], OrderedDict[str, Any]],
        key: tuple[str, Direction],
        message_id: str,
        item: Any,
    ) -> None:
        queue = table.get(key)
        if queue is None:
            queue = table[key] = OrderedDict()
        queue.pop(message_id, None)
        queue[message_id] = item
        if len(queue) > self._limit:
            queue.popitem(last=False)

    def observe(self, frame: Frame, station: str, direction: Direction) -> PendingCall | None:
        """Record a CALL (returns None), or return the CALL a response or error answers (or None).

        CALLRESULT and CALLERROR travel against their CALL and settle it; a CALLRESULTERROR travels
        with it and refers to a CALL already answered by a CALLRESULT.
        """
        station = normalize_station(station)
        ftype = frame.type
        if ftype is MessageType.CALL:
            item: PendingCall | Frame
            try:
                item = PendingCall.of(frame)
            except InputError:
                item = frame
            self._remember(self._pending, (station, direction), frame.message_id, item)
            return None
        if ftype is MessageType.CALLRESULTERROR:
            answered = self._answered.get((station, direction))
            return answered.pop(frame.message_id, None) if answered is not None else None
        if ftype is MessageType.CALLRESULT or ftype is MessageType.CALLERROR:
            key = (station, direction.reverse)
            waiting = self._pending.get(key)
            waited = waiting.pop(frame.message_id, None) if waiting is not None else None
            if waited is None:
                return None
            call = waited if isinstance(waited, PendingCall) else PendingCall.of(waited)
            if ftype is MessageType.CALLRESULT:
                self._remember(self._answered, key, call.message_id, call)
            return call
        return None

    def waiting(self, station: str, direction: Direction, message_id: str) -> PendingCall | None:
        """The CALL ``message_id`` sent in ``direction`` while it waits for its answer, as its
        :class:`PendingCall` (None when it is not waiting, or when its R cannot be computed)."""
        queue = self._pending.get((normalize_station(station), direction))
        item = queue.get(message_id) if queue is not None else None
        return item if isinstance(item, PendingCall) else None

    def pending(self, station: str, direction: Direction) -> list[PendingCall]:
        """CALLs sent in ``direction`` that are still waiting for an answer."""
        waiting = self._pending.get((normalize_station(station), direction))
        if not waiting:
            return []
        return [w if isinstance(w, PendingCall) else PendingCall.of(w) for w in waiting.values()]
