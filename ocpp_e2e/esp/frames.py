"""Encrypting and decrypting OCPP frames end to end (docs/esp.md, proposed SPEC §9).

Sign, then encrypt: the inner frame is an ordinary (signed or unsigned) OCPP-J frame; it travels
encrypted with HPKE inside a plain ``DataTransfer`` that every OCPP node forwards.

>>> from datetime import UTC, datetime
>>> from ocpp_e2e.esp.keys import generate_esp_key
>>> station, csms = generate_esp_key("X25519"), generate_esp_key("X25519")
>>> now = datetime(2026, 12, 7, 22, 40, tzinfo=UTC)
>>> sealed = encrypt_frame('[2,"7","Reset",{"type":"Immediate"}]', ocpp="2.0.1", station="CS-1",
...                        direction="toStation", recipient=station.public,
...                        reply_to=csms.public, now=now)
>>> sealed.text.startswith('[2,"7","DataTransfer",{"data":"{')
True
>>> opened = decrypt_frame(sealed.text, EspReceiver([station]), ocpp="2.0.1", station="cs-1",
...                        direction="toStation", now=now,
...                        reply_keys=EspKeyring([EspKeyInfo(csms.public, None)]))
>>> opened.outcome.value, opened.inner
('decrypted', b'[2,"7","Reset",{"type":"Immediate"}]')
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag

from .._b64 import Base64Error, b64_decode, b64_encode, b64url_decode, b64url_encode
from .._time import format_timestamp, parse_spec_timestamp
from ..canonical import MAX_BYTES, _dumps_parsed, dumps, loads
from ..context import PendingCall, normalize_station
from ..errors import InputError
from ..frames import Frame, MessageType, parse_frame
from ..model import Direction
from ..replay import ReplayCache, ReplayCacheUnavailable
from ..versions import VERSIONS, profile
from .keys import EspKeyInfo, EspKeyring, EspPrivateKey, EspPublicKey
from .model import (
    ESP_INFO_LABEL,
    ESP_MESSAGE_ID,
    ESP_VENDOR_ID,
    AnswerTo,
    EncryptionError,
    EspOutcome,
    EspPending,
    KeyAgreementValidator,
    Opened,
    Sealed,
)
from .suites import MAX_OVERHEAD, SUITES, TAG_LENGTH, Suite, default_suite

__all__ = [
    "MAX_PLAINTEXT",
    "MAX_REPLY_CERTIFICATES",
    "THREAD_THRESHOLD",
    "EspReceiver",
    "ciphertext_digest",
    "decrypt_frame",
    "encrypt_frame",
    "is_esp_request",
]

#: Default limit of an inner frame: the outer frame must stay within SPEC §2's 1 MiB frame limit
#: like any frame, and base64url adds a third; 768,000 bytes (and the envelope) fit.
MAX_PLAINTEXT = 768_000
#: Frames larger than this (bytes, or characters of the envelope) are encrypted and decrypted in
#: a worker thread by the asynchronous entry points.
THREAD_THRESHOLD = 64 * 1024
#: At most this many certificates travel in ``replyCertificates`` (as SPEC §1 ``certificates``).
MAX_REPLY_CERTIFICATES = 4
_ENVELOPE_MEMBERS = frozenset(
    {"suite", "recipient", "timestamp", "replyTo", "replyCertificates", "ct"}
)
_KIND_OF = {
    MessageType.CALL: "request",
    MessageType.SEND: "send",
    MessageType.CALLRESULT: "response",
}
_KEY_ID_LENGTH = 43
_MIN_CT = 32 + TAG_LENGTH


def is_esp_request(frame: Frame) -> bool:
    """Is this a CALL or SEND that carries an ESP envelope (``DataTransfer`` of ``org.ocpp-e2e``)?

    Any ``messageId`` counts: a receiver answers an unknown version with ``UnknownMessageId``.
    """
    return (
        frame.type in (MessageType.CALL, MessageType.SEND)
        and frame.action == "DataTransfer"
        and frame.payload.get("vendorId") == ESP_VENDOR_ID
    )


def ciphertext_digest(ct: bytes) -> str:
    """base64url SHA-256 of a request's decoded ``ct`` (the ``requestCiphertext`` of §9.5)."""
    return b64url_encode(hashlib.sha256(ct).digest())


def _hpke_info(
    *,
    ocpp: str,
    station: str,
    direction: Direction | str,
    kind: str,
    suite: str,
    recipient: str,
    timestamp: str,
    reply_to: str | None = None,
    request: str | None = None,
    request_ciphertext: str | None = None,
) -> bytes:
    """The HPKE ``info`` of §9.5: RFC 8785 of the context object."""
    info: dict[str, str] = {
        "esp": ESP_INFO_LABEL,
        "ocpp": ocpp,
        "station": normalize_station(station),
        "direction": Direction(direction).value,
        "kind": kind,
        "suite": suite,
        "recipient": recipient,
        "timestamp": timestamp,
    }
    if reply_to is not None:
        info["replyTo"] = reply_to
    if request is not None:
        info["request"] = request
    if request_ciphertext is not None:
        info["requestCiphertext"] = request_ciphertext
    # Only strings: the fast canonical writer gives the RFC 8785 form (tests hold it to that).
    return _dumps_parsed(info, True)


def _inner_text(frame: str | bytes | list[Any]) -> bytes:
    if isinstance(frame, bytes):
        return frame
    if isinstance(frame, str):
        return frame.encode("utf-8")
    return dumps(frame)


def _suite_for(key: EspPublicKey, suite: str | None) -> Suite:
    if suite is None:
        return default_suite(key.type)
    chosen = SUITES.get(suite)
    if chosen is None:
        raise EncryptionError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
    if chosen.key_type is not key.type:
        raise EncryptionError(
            f"suite {suite} needs a {chosen.key_type.value} key; the recipient key "
            f"{key.key_id} is {key.type.value}"
        )
    return chosen


def encrypt_frame(
    frame: str | bytes | list[Any],
    *,
    ocpp: str,
    station: str,
    direction: Direction | str,
    recipient: EspPublicKey | None = None,
    reply_to: EspPublicKey | None = None,
    reply_certificates: Sequence[bytes] = (),
    answering: AnswerTo | None = None,
    suite: str | None = None,
    message_id: str | None = None,
    now: datetime,
    max_plaintext: int = MAX_PLAINTEXT,
) -> Sealed:
    """Encrypt an OCPP-J frame (signed already, if it is to be signed) into an ESP outer frame.

    A CALL (or OCPP 2.1 SEND) goes to ``recipient``; a CALL names ``reply_to``, the key its answer
    must be encrypted to (with ``reply_certificates``, its chain, when the receiver does not hold
    it in a keyring). A CALLRESULT or CALLERROR answers an encrypted request: give ``answering``,
    the :class:`AnswerTo` of the decrypted request; it goes to the request's ``replyTo`` key.
    ``message_id`` is the outer frame's id (default: the inner frame's id, or for an answer the
    outer request's). Raises :class:`EncryptionError` with the reason.
    """
    profile(ocpp, error=EncryptionError)
    plaintext = _inner_text(frame)
    if len(plaintext) > max_plaintext:
        raise EncryptionError(
            f"the inner frame has {len(plaintext)} bytes; at most {max_plaintext} are encrypted"
        )
    try:
        inner = parse_frame(plaintext, ocpp=ocpp)
    except InputError as exc:
        raise EncryptionError(f"the inner frame is not a valid OCPP-J frame: {exc}") from exc
    if is_esp_request(inner):
        raise EncryptionError("the inner frame is an ESP frame already; ESP frames do not nest")
    direction = Direction(direction)
    when = format_timestamp(now)
    envelope: dict[str, Any] = {"timestamp": when}
    info_extra: dict[str, str | None] = {}
    pending_call: PendingCall | None = None
    if answering is not None:
        if inner.type not in (MessageType.CALLRESULT, MessageType.CALLERROR):
            raise EncryptionError(
                f"an answer is a CALLRESULT or CALLERROR, not a {inner.type.name}"
            )
        if inner.message_id != answering.call.message_id:
            raise EncryptionError(
                f"the answer's id {inner.message_id!r} is not the request's {answering.call.message_id!r}"
            )
        if recipient is not None and recipient.key_id != answering.reply_key.key_id:
            raise EncryptionError("an answer goes to the request's replyTo key, not another")
        if reply_to is not None or reply_certificates:
            raise EncryptionError("an answer names no replyTo key")
        key = answering.reply_key
        kind = "response"
        info_extra = {
            "request": answering.call.request,
            "request_ciphertext": answering.request_ciphertext,
        }
        outer_id = message_id or answering.outer_message_id
    else:
        if inner.type not in (MessageType.CALL, MessageType.SEND):
            raise EncryptionError(
                f"a {inner.type.name} is encrypted only as the answer to an encrypted request "
                "(give answering=)"
            )
        if recipient is None:
            raise EncryptionError("give the recipient key (the receiver's ESP public key)")
        key = recipient
        kind = _KIND_OF[inner.type]
        if inner.type is MessageType.CALL:
            if reply_to is None:
                raise EncryptionError(
                    "an encrypted CALL names the key its answer goes to (reply_to)"
                )
            if len(reply_certificates) > MAX_REPLY_CERTIFICATES:
                raise EncryptionError(
                    f"at most {MAX_REPLY_CERTIFICATES} reply certificates travel with a request"
                )
            envelope["replyTo"] = reply_to.key_id
            info_extra = {"reply_to": reply_to.key_id}
            if reply_certificates:
                envelope["replyCertificates"] = [b64_encode(c) for c in reply_certificates]
            pending_call = PendingCall.of(inner)
        elif reply_to is not None or reply_certificates:
            raise EncryptionError("a SEND is never answered; it names no replyTo key")
        outer_id = message_id or inner.message_id
    chosen = _suite_for(key, suite)
    envelope["suite"] = chosen.name
    envelope["recipient"] = key.key_id
    info = _hpke_info(
        ocpp=ocpp,
        station=station,
        direction=direction,
        kind=kind,
        suite=chosen.name,
        recipient=key.key_id,
        timestamp=when,
        **info_extra,
    )
    ct = chosen.hpke().encrypt(plaintext, key.hpke_key, info=info)
    envelope["ct"] = b64url_encode(ct)
    data = _dumps_parsed(envelope, True).decode("ascii")
    outer: list[Any]
    if kind == "response":
        outer = [int(MessageType.CALLRESULT), outer_id, {"status": "Accepted", "data": data}]
    else:
        outer = [
            int(inner.type),
            outer_id,
            "DataTransfer",
            {"vendorId": ESP_VENDOR_ID, "messageId": ESP_MESSAGE_ID, "data": data},
        ]
    pending = (
        EspPending(pending_call, ciphertext_digest(ct), envelope["replyTo"])
        if pending_call is not None
        else None
    )
    return Sealed(_dumps_parsed(outer, True).decode("utf-8"), plaintext, envelope, pending)


class EspReceiver:
    """The receiving side of ESP: private keys, accepted suites, freshness and the replay cache.

    ``private_keys`` are this node's recipient keys (several during a rollover). ``reply_keys``
    are the keys answers may be encrypted to (an :class:`EspKeyring`); ``certificates`` validates
    ``replyCertificates`` chains (a :class:`~ocpp_e2e.pki.ChainValidator`). An enforcing receiver
    gives a ``replay_cache`` (SPEC §4) and, when that cache forgets on restart, ``not_before``.
    """

    def __init__(
        self,
        private_keys: Iterable[EspPrivateKey],
        *,
        reply_keys: EspKeyring | None = None,
        certificates: KeyAgreementValidator | None = None,
        suites: Iterable[str] | None = None,
        max_age: timedelta = timedelta(minutes=5),
        clock_skew: timedelta = timedelta(seconds=30),
        replay_cache: ReplayCache | None = None,
        not_before: datetime | None = None,
        max_plaintext: int = MAX_PLAINTEXT,
    ) -> None:
        self.private_keys = {k.key_id: k for k in private_keys}
        if not self.private_keys:
            raise EncryptionError("an ESP receiver needs at least one private key")
        self.reply_keys = reply_keys if reply_keys is not None else EspKeyring()
        self.certificates = certificates
        accepted = tuple(SUITES) if suites is None else tuple(suites)
        unknown = [s for s in accepted if s not in SUITES]
        if unknown:
            raise EncryptionError(
                f"unknown suite(s) {', '.join(unknown)}; known: {', '.join(SUITES)}"
            )
        self.suites = frozenset(accepted)
        self.max_age = max_age
        self.clock_skew = clock_skew
        self.replay_cache = replay_cache
        self.not_before = not_before
        self.max_plaintext = max_plaintext

    def decrypt_frame(
        self,
        data: bytes | str | Frame,
        *,
        ocpp: str,
        station: str,
        direction: Direction | str,
        pending: EspPending | None = None,
        now: datetime,
    ) -> Opened:
        """See :func:`decrypt_frame`."""
        cache = self.replay_cache
        replay = cache.check_and_add if cache is not None else None
        return _open(
            self, data, ocpp, station, Direction(direction), pending, now, replay
        )

    async def decrypt_frame_async(
        self,
        data: bytes | str | Frame,
        *,
        ocpp: str,
        station: str,
        direction: Direction | str,
        pending: EspPending | None = None,
        now: datetime,
        replay_timeout: float = 1.0,
    ) -> Opened:
        """:meth:`decrypt_frame` for an event loop: the replay cache is awaited (its
        ``check_and_add_async`` when it has one) within ``replay_timeout`` seconds; a cache that
        does not answer raises :class:`~ocpp_e2e.replay.ReplayCacheUnavailable` (fail closed).
        Envelopes over :data:`THREAD_THRESHOLD` bytes are opened in a worker thread, so that
        tens of milliseconds of reading and decrypting never stall the loop."""
        moment = now
        asked: list[tuple[str, bytes, datetime, datetime]] = []

        def defer(key_id: str, digest: bytes, expires: datetime, at: datetime) -> bool:
            asked.append((key_id, digest, expires, at))
            return False

        cache = self.replay_cache
        args = (
            self,
            data,
            ocpp,
            station,
            Direction(direction),
            pending,
            moment,
            defer if cache is not None else None,
        )
        if _size(data) > THREAD_THRESHOLD:
            opened = await asyncio.to_thread(_open, *args)
        else:
            opened = _open(*args)
        if cache is None or not asked:
            return opened
        if await _check_replay_async(cache, asked[0], replay_timeout):
            return Opened(
                EspOutcome.REPLAYED, _REPLAYED, suite=opened.suite, recipient=opened.recipient
            )
        return opened


def _size(data: bytes | str | Frame) -> int:
    if isinstance(data, Frame):
        inner = data.payload.get("data")
        return len(inner) if isinstance(inner, str) else 0
    return len(data)


async def _check_replay_async(
    cache: ReplayCache, entry: tuple[str, bytes, datetime, datetime], timeout: float
) -> bool:
    asynchronous = getattr(cache, "check_and_add_async", None)
    try:
        if asynchronous is not None:
            async with asyncio.timeout(timeout):
                return bool(await asynchronous(*entry))
        return cache.check_and_add(*entry)
    except TimeoutError:
        raise ReplayCacheUnavailable(
            f"replay cache unavailable: no answer within {timeout:g} s"
        ) from None
    except ReplayCacheUnavailable:
        raise
    except Exception as exc:
        raise ReplayCacheUnavailable(f"replay cache unavailable: {type(exc).__name__}") from exc


def decrypt_frame(
    data: bytes | str | Frame,
    receiver: EspReceiver,
    *,
    ocpp: str,
    station: str,
    direction: Direction | str,
    pending: EspPending | None = None,
    now: datetime,
    reply_keys: EspKeyring | None = None,
) -> Opened:
    """Read one ESP outer frame received on ``station``'s connection, travelling ``direction``.

    Returns an :class:`Opened` whose outcome is one of docs/esp.md §9.6, checked in that order;
    never raises for bad input. For an answer give ``pending``, kept from :func:`encrypt_frame`
    (``Sealed.pending``) of the request. ``reply_keys`` adds keys answers may go to.
    """
    if reply_keys is not None:
        receiver = _with_reply_keys(receiver, reply_keys)
    return receiver.decrypt_frame(
        data, ocpp=ocpp, station=station, direction=direction, pending=pending, now=now
    )


def _with_reply_keys(receiver: EspReceiver, extra: EspKeyring) -> EspReceiver:
    merged = EspKeyring(list(receiver.reply_keys) + list(extra))
    copy = object.__new__(EspReceiver)
    copy.__dict__.update(receiver.__dict__)
    copy.reply_keys = merged
    return copy


class _Refused(Exception):
    def __init__(self, outcome: EspOutcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


_REPLAYED = "this envelope was received before (same encapsulated key)"
_ReplayCheck = Callable[[str, bytes, datetime, datetime], bool]


def _open(
    rx: EspReceiver,
    data: bytes | str | Frame,
    ocpp: str,
    station: str,
    direction: Direction,
    pending: EspPending | None,
    now: datetime,
    replay: _ReplayCheck | None,
) -> Opened:
    profile(ocpp)
    suite: str | None = None
    recipient: str | None = None
    try:
        outer = _outer(data, ocpp)
        kind = _KIND_OF.get(outer.type)
        if kind is None:
            raise _Refused(
                EspOutcome.MALFORMED, f"a {outer.type.name} never carries an ESP envelope"
            )
        if kind == "response" and pending is None:
            raise _Refused(
                EspOutcome.MALFORMED,
                "an encrypted answer is read only for a pending encrypted request on this "
                "connection",
            )
        envelope, ct = _envelope(outer, kind, ocpp, rx.max_plaintext)
        suite, recipient = envelope["suite"], envelope["recipient"]
        info = _hpke_info(
            ocpp=ocpp,
            station=station,
            direction=direction,
            kind=kind,
            suite=suite,
            recipient=recipient,
            timestamp=envelope["timestamp"],
            reply_to=envelope.get("replyTo"),
            request=pending.call.request if pending is not None else None,
            request_ciphertext=pending.request_ciphertext if pending is not None else None,
        )
        plaintext = _unseal(
            rx,
            envelope,
            ct,
            info,
            now=now,
            replay=replay,
            answer_key=pending.reply_key_id if pending is not None else None,
            context="and context (altered, or moved to another connection, direction or call)",
        )
        inner = _inner(plaintext, ocpp, outer.type, pending)
        answer_to = None
        if outer.type is MessageType.CALL:
            reply_key, identity = _reply_key(rx, envelope, station, direction, now)
            answer_to = AnswerTo(
                outer.message_id, PendingCall.of(inner), ciphertext_digest(ct), reply_key, identity
            )
    except _Refused as refused:
        return Opened(refused.outcome, refused.reason, suite=suite, recipient=recipient)
    return Opened(
        EspOutcome.DECRYPTED,
        f"decrypted with key {recipient} ({suite})",
        plaintext,
        inner,
        suite,
        recipient,
        answer_to,
    )


def _outer(data: bytes | str | Frame, ocpp: str) -> Frame:
    if isinstance(data, Frame):
        return data
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_BYTES:
        raise _Refused(
            EspOutcome.TOO_LARGE,
            f"the outer frame has {len(raw)} bytes; SPEC §2 reads at most {MAX_BYTES} (1 MiB)",
        )
    try:
        return parse_frame(raw, ocpp=ocpp)
    except InputError as exc:
        if "exceeds the limit" in exc.reason:
            raise _Refused(EspOutcome.TOO_LARGE, f"the outer frame: {exc}") from exc
        raise _Refused(EspOutcome.MALFORMED, f"the outer frame: {exc}") from exc


def _carrier_members(ocpp: str) -> frozenset[str]:
    """Where relays' signatures on the outer payload live (SPEC §1 carriers)."""
    return frozenset({"signatures" if VERSIONS[ocpp].carrier == "top" else "customData"})


def _envelope(
    outer: Frame, kind: str, ocpp: str, max_plaintext: int
) -> tuple[dict[str, Any], bytes]:
    payload = outer.payload
    extra = _carrier_members(ocpp)
    if kind == "response":
        wanted = {"status", "data"}
        if payload.get("status") != "Accepted":
            raise _Refused(
                EspOutcome.MALFORMED,
                f"the answer's DataTransfer status is {payload.get('status')!r}, not 'Accepted' "
                "with an envelope",
            )
    else:
        wanted = {"vendorId", "messageId", "data"}
        if outer.action != "DataTransfer" or payload.get("vendorId") != ESP_VENDOR_ID:
            raise _Refused(EspOutcome.MALFORMED, f"not a DataTransfer of vendorId {ESP_VENDOR_ID}")
        if payload.get("messageId") != ESP_MESSAGE_ID:
            raise _Refused(
                EspOutcome.MALFORMED,
                f"messageId {payload.get('messageId')!r} is not {ESP_MESSAGE_ID!r} (answer "
                "UnknownMessageId)",
            )
    missing = wanted - set(payload)
    unknown = set(payload) - wanted - extra
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(sorted(missing))}")
        if unknown:
            parts.append(f"unknown member(s) {', '.join(sorted(unknown))}")
        raise _Refused(EspOutcome.MALFORMED, f"the outer payload: {'; '.join(parts)}")
    text = payload["data"]
    if not isinstance(text, str):
        raise _Refused(
            EspOutcome.MALFORMED, "data must be a string holding the envelope's JSON text"
        )
    limit = (max_plaintext + MAX_OVERHEAD) * 4 // 3 + 16 * 1024
    if len(text) > limit:
        raise _Refused(
            EspOutcome.TOO_LARGE, f"the envelope has {len(text)} characters; at most {limit}"
        )
    try:
        envelope = loads(text)
    except InputError as exc:
        raise _Refused(EspOutcome.MALFORMED, f"the envelope is not I-JSON: {exc}") from exc
    if not isinstance(envelope, dict):
        raise _Refused(EspOutcome.MALFORMED, "the envelope is a JSON object")
    unknown = set(envelope) - _ENVELOPE_MEMBERS
    if unknown:
        raise _Refused(
            EspOutcome.MALFORMED, f"the envelope has unknown member(s) {', '.join(sorted(unknown))}"
        )
    for member in ("suite", "recipient", "timestamp", "ct"):
        if not isinstance(envelope.get(member), str):
            raise _Refused(EspOutcome.MALFORMED, f"the envelope's {member} must be a string")
    if kind == "request":
        if not isinstance(envelope.get("replyTo"), str):
            raise _Refused(
                EspOutcome.MALFORMED, "an encrypted request names its answer's key in replyTo"
            )
        _key_id_form(envelope["replyTo"], "replyTo")
        certs = envelope.get("replyCertificates")
        if certs is not None:
            if not isinstance(certs, list) or not certs or len(certs) > MAX_REPLY_CERTIFICATES:
                raise _Refused(
                    EspOutcome.MALFORMED,
                    f"replyCertificates must be 1 to {MAX_REPLY_CERTIFICATES} base64 certificates",
                )
            for i, cert in enumerate(certs):
                try:
                    b64_decode(cert) if isinstance(cert, str) else None
                except Base64Error as exc:
                    raise _Refused(
                        EspOutcome.MALFORMED, f"replyCertificates[{i}] is not base64 ({exc})"
                    ) from exc
                if not isinstance(cert, str):
                    raise _Refused(EspOutcome.MALFORMED, f"replyCertificates[{i}] must be a string")
    elif "replyTo" in envelope or "replyCertificates" in envelope:
        raise _Refused(
            EspOutcome.MALFORMED,
            f"a {kind} envelope names no replyTo key (only requests are answered)",
        )
    return envelope, _sealed_ct(envelope, max_plaintext)


def _sealed_ct(envelope: Mapping[str, Any], max_plaintext: int) -> bytes:
    """The ciphertext of an envelope (frame or structure) whose recipient, timestamp and ct are
    strings, after checking their forms and the ciphertext's size."""
    _key_id_form(envelope["recipient"], "recipient")
    try:
        parse_spec_timestamp(envelope["timestamp"])
    except ValueError as exc:
        raise _Refused(EspOutcome.MALFORMED, f"the envelope's timestamp: {exc}") from exc
    try:
        ct = b64url_decode(envelope["ct"])
    except Base64Error as exc:
        raise _Refused(EspOutcome.MALFORMED, f"ct is not base64url ({exc})") from exc
    if len(ct) > max_plaintext + MAX_OVERHEAD:
        raise _Refused(
            EspOutcome.TOO_LARGE,
            f"ct has {len(ct)} bytes; at most {max_plaintext + MAX_OVERHEAD} are decrypted",
        )
    if len(ct) < _MIN_CT:
        raise _Refused(
            EspOutcome.MALFORMED, f"ct has {len(ct)} bytes; less than any suite's overhead"
        )
    return ct


def _unseal(
    rx: EspReceiver,
    envelope: Mapping[str, Any],
    ct: bytes,
    info: bytes,
    *,
    now: datetime,
    replay: _ReplayCheck | None,
    context: str,
    answer_key: str | None = None,
) -> bytes:
    """Checks 4-8 of docs/esp.md §9.6 on a read envelope (frame or structure): suite accepted,
    key held (and, for an answer, the one its request named), suite fits the key, fresh, opens
    under ``info``, not replayed. The plaintext, or :class:`_Refused` with the outcome."""
    suite, recipient = envelope["suite"], envelope["recipient"]
    chosen = SUITES.get(suite)
    if chosen is None or suite not in rx.suites:
        known = ", ".join(sorted(rx.suites))
        raise _Refused(
            EspOutcome.UNSUPPORTED_SUITE,
            f"suite {suite!r} is not accepted here (accepted: {known})",
        )
    key = rx.private_keys.get(recipient)
    if key is None:
        raise _Refused(
            EspOutcome.WRONG_RECIPIENT,
            f"the envelope is for key {recipient}, which this receiver does not hold",
        )
    if answer_key is not None and recipient != answer_key:
        raise _Refused(
            EspOutcome.WRONG_RECIPIENT,
            f"the answer is for key {recipient}, the request named {answer_key}",
        )
    if chosen.key_type is not key.type:
        raise _Refused(
            EspOutcome.UNSUPPORTED_SUITE,
            f"suite {suite} needs a {chosen.key_type.value} key; key {recipient} is "
            f"{key.type.value}",
        )
    stamp = _fresh(rx, envelope["timestamp"], now)
    try:
        plaintext = chosen.hpke().decrypt(ct, key.hpke_key, info=info)
    except (InvalidTag, ValueError) as exc:
        raise _Refused(
            EspOutcome.UNDECRYPTABLE,
            f"the ciphertext does not open with this key {context} ({type(exc).__name__})",
        ) from exc
    if replay is not None:
        enc = ct[: chosen.enc_length]
        expires = stamp + rx.max_age + rx.clock_skew
        if replay(recipient, hashlib.sha256(enc).digest(), expires, now):
            raise _Refused(EspOutcome.REPLAYED, _REPLAYED)
    return plaintext


def _key_id_form(value: str, member: str) -> None:
    try:
        raw = b64url_decode(value)
    except Base64Error as exc:
        raise _Refused(EspOutcome.MALFORMED, f"{member} is not a key id ({exc})") from exc
    if len(value) != _KEY_ID_LENGTH or len(raw) != 32:
        raise _Refused(EspOutcome.MALFORMED, f"{member} is not a key id (43 base64url characters)")


def _fresh(rx: EspReceiver, text: str, now: datetime) -> datetime:
    stamp = parse_spec_timestamp(text)
    if rx.not_before is not None and stamp < rx.not_before:
        raise _Refused(
            EspOutcome.EXPIRED,
            f"encrypted at {text}, before this receiver started with a replay cache that forgets "
            "on restart",
        )
    if stamp > now + rx.clock_skew:
        raise _Refused(
            EspOutcome.EXPIRED, f"encrypted at {text}, in the future (now {format_timestamp(now)})"
        )
    if now - stamp > rx.max_age + rx.clock_skew:
        raise _Refused(
            EspOutcome.EXPIRED,
            f"encrypted at {text}, older than {int((rx.max_age + rx.clock_skew).total_seconds())} s "
            f"(now {format_timestamp(now)})",
        )
    return stamp


def _inner(
    plaintext: bytes, ocpp: str, outer_type: MessageType, pending: EspPending | None
) -> Frame:
    try:
        inner = parse_frame(plaintext, ocpp=ocpp)
    except InputError as exc:
        raise _Refused(
            EspOutcome.INVALID_INNER_FRAME, f"the decrypted inner frame is not readable: {exc}"
        ) from exc
    allowed = {
        MessageType.CALL: (MessageType.CALL,),
        MessageType.SEND: (MessageType.SEND,),
        MessageType.CALLRESULT: (MessageType.CALLRESULT, MessageType.CALLERROR),
    }[outer_type]
    if inner.type not in allowed:
        raise _Refused(
            EspOutcome.INVALID_INNER_FRAME,
            f"an outer {outer_type.name} carries a {' or '.join(t.name for t in allowed)}, "
            f"not a {inner.type.name}",
        )
    if is_esp_request(inner):
        raise _Refused(EspOutcome.INVALID_INNER_FRAME, "ESP frames do not nest")
    if pending is not None and inner.message_id != pending.call.message_id:
        raise _Refused(
            EspOutcome.INVALID_INNER_FRAME,
            f"the inner answer's id {inner.message_id!r} is not the request's "
            f"{pending.call.message_id!r}",
        )
    return inner


def _same(a: str, b: str) -> bool:
    return normalize_station(a) == normalize_station(b)


def _reply_key(
    rx: EspReceiver, envelope: dict[str, Any], station: str, direction: Direction, now: datetime
) -> tuple[EspPublicKey, str | None]:
    kid = envelope["replyTo"]
    from_station = direction is Direction.TO_CSMS
    entry: EspKeyInfo | None = rx.reply_keys.get(kid)
    if entry is not None:
        if from_station and (entry.name is None or not _same(entry.name, station)):
            raise _Refused(
                EspOutcome.UNKNOWN_REPLY_KEY,
                f"reply key {kid} belongs to {entry.name or 'no identity'}, not to station "
                f"{normalize_station(station)} whose connection carried the request",
            )
        return entry.key, entry.name
    certs = envelope.get("replyCertificates")
    if certs is None:
        raise _Refused(
            EspOutcome.UNKNOWN_REPLY_KEY,
            f"reply key {kid} is not in this receiver's ESP keyring and no replyCertificates "
            "certify it",
        )
    if rx.certificates is None:
        raise _Refused(
            EspOutcome.UNKNOWN_REPLY_KEY,
            f"reply key {kid} comes with certificates, but this receiver has no trust anchors "
            "for key-agreement certificates",
        )
    chain = tuple(b64_decode(c) for c in certs)
    result = rx.certificates.validate_key_agreement(chain, now=now)
    if not result.ok or result.leaf_spki is None:
        raise _Refused(
            EspOutcome.UNKNOWN_REPLY_KEY, f"the reply key's certificates: {result.reason}"
        )
    from .keys import load_esp_public_spki

    key = load_esp_public_spki(result.leaf_spki)
    if key.key_id != kid:
        raise _Refused(
            EspOutcome.UNKNOWN_REPLY_KEY,
            f"the reply certificate is for key {key.key_id}, the request names {kid}",
        )
    if from_station and (result.identity is None or not _same(result.identity, station)):
        raise _Refused(
            EspOutcome.UNKNOWN_REPLY_KEY,
            f"the reply key is certified for {result.identity}, not for station "
            f"{normalize_station(station)} whose connection carried the request",
        )
    return key, result.identity
