"""Verification (SPEC §1–§4): every signature of a frame or structure gets an outcome and a reason.

>>> from datetime import UTC, datetime, timedelta
>>> from ocpp_e2e.keys import KeySigner, Keyring, generate_private_key
>>> from ocpp_e2e.sign import sign_frame
>>> key = generate_private_key("Ed25519")
>>> ring = Keyring(); _ = ring.add(key.public_key(), name="ops-1")
>>> sent = datetime(2026, 11, 22, 10, tzinfo=UTC)
>>> text = sign_frame('[2,"1","Reset",{"type":"Immediate"}]', KeySigner(key), ocpp="2.0.1",
...                   station="cs-1", timestamp=sent)
>>> result = Verifier(ring).verify_frame(text, ocpp="2.0.1", station="cs-1",
...                                      now=sent + timedelta(seconds=2))
>>> [s.outcome.value for s in result.verification.signatures]
['valid']
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ._b64 import Base64Error, b64_decode, b64url_decode, b64url_decode_checked
from ._der import UNREADABLE_CERTIFICATE, certificate_spki
from .canonical import _dumps_parsed, parse
from .context import (
    PendingCall,
    find_signatures,
    frame_context,
    frame_kind,
    frame_signing_payload,
    normalize_station,
    signing_payload,
)
from .errors import InputError, KeyLoadError
from .frames import Frame, parse_frame
from .keys import (
    ALGORITHMS,
    Keyring,
    PublicKey,
    algorithm_for,
    key_id,
    load_spki,
)
from .members import MAX_CERTIFICATES, member_problem
from .model import CertificateValidator, Outcome, SignatureResult, Verification
from .replay import ReplayCache
from .sign import MAX_SIGNATURES, _signing_input

__all__ = [
    "FrameVerification",
    "Verifier",
]


class FrameVerification(NamedTuple):
    """A checked frame with the verdict on its signatures."""

    frame: Frame
    verification: Verification


class _Malformed(Exception):
    pass


@lru_cache(maxsize=256)
@lru_cache(maxsize=256)
def _leaf_spki(der: bytes) -> bytes:
    """The leaf certificate's SubjectPublicKeyInfo as encoded in it, checked strictly: a
    compressed EC point or another non-canonical key is ``malformed`` (SPEC §1), as in
    ``publicKey`` and keyrings, never silently re-encoded into a second key id."""
    try:
        x509.load_der_x509_certificate(der)
        spki = certificate_spki(der)
    except UNREADABLE_CERTIFICATE as exc:
        raise _Malformed(f"the leaf certificate cannot be read ({exc})") from exc
    try:
        key = serialization.load_der_public_key(spki)
    except (ValueError, UnsupportedAlgorithm):
        return spki  # a key type SPEC §5 does not allow: the chain validator says so
    canonical = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if canonical != spki:
        raise _Malformed(
            "the leaf certificate's key is not in canonical form (compressed EC point or "
            "non-canonical DER): one key would have two key ids"
        )
    return spki


@lru_cache(maxsize=256)
def _leaf_key(spki: bytes) -> tuple[PublicKey, str]:
    key = load_spki(spki)
    return key, algorithm_for(key)


@lru_cache(maxsize=4096)
def _embedded_key(text: str) -> tuple[PublicKey, str]:
    try:
        der = b64url_decode(text)
    except Base64Error as exc:
        raise _Malformed(f"publicKey: {exc}") from exc
    try:
        return load_spki(der), key_id(der)
    except KeyLoadError as exc:
        raise _Malformed(f"publicKey: {exc}") from exc


class Verifier:
    """Verifies signatures against a keyring and, for ``certificates``, a certificate validator.

    ``identity`` is this receiver's own id (for ``destination``); ``replay_cache`` is required in
    enforcing deployments (SPEC §4). ``max_signature_age`` and ``clock_skew`` define freshness for
    frames.
    """

    def __init__(
        self,
        keyring: Keyring | None = None,
        *,
        certificates: CertificateValidator | None = None,
        max_signature_age: timedelta = timedelta(minutes=5),
        clock_skew: timedelta = timedelta(seconds=30),
        replay_cache: ReplayCache | None = None,
        identity: str | None = None,
        not_before: datetime | None = None,
    ) -> None:
        self.keyring = keyring if keyring is not None else Keyring()
        self.certificates = certificates
        self.max_signature_age = max_signature_age
        self.clock_skew = clock_skew
        self.replay_cache = replay_cache
        self.identity = identity
        # Frame signatures dated before this are refused: an enforcing verifier whose replay cache
        # does not survive a restart sets it to its start (SPEC §4), so a replay of a signature
        # seen before the restart cannot pass.
        self.not_before = not_before
        # A signature is fresh from now - maxSignatureAge - clockSkew; replay entries live as long.
        self._window = max_signature_age + clock_skew

    # ------------------------------------------------------------------ frames

    def verify_frame(
        self,
        data: bytes | str | Frame,
        *,
        ocpp: str,
        station: str,
        call: PendingCall | None = None,
        now: datetime,
        identity: str | None = None,
        check_freshness: bool = True,
    ) -> FrameVerification:
        """Verify a frame received on ``station``'s connection.

        ``check_freshness=False`` skips the freshness window (an audit of a log without capture
        times cannot judge it); everything else, the replay cache included, is checked.

        For a CALLRESULT/CALLERROR give ``call``, the pending CALL with the same id (see
        :class:`~ocpp_e2e.context.CallTracker`); without it the response's signatures are
        ``malformed`` (SPEC §3). Raises :class:`~ocpp_e2e.errors.InputError` for bytes that are not a
        valid frame (SPEC §2) — those never get a verdict.
        """
        frame = data if isinstance(data, Frame) else parse_frame(data, ocpp=ocpp)
        kind = frame_kind(frame)
        payload = frame_signing_payload(frame)
        carrier_obj = frame.error_details if frame.error_details is not None else frame.payload
        if frame.is_call:
            # parse_frame checked the version and the action; this is frame_context's result.
            ctx = {
                "ocpp": ocpp,
                "station": normalize_station(station),
                "action": frame.action,
                "kind": kind.value,
            }
        elif call is None or call.message_id != frame.message_id:
            ctx = {"ocpp": ocpp, "station": normalize_station(station), "kind": kind.value}
            where, sigs, _problems = find_signatures(carrier_obj)
            reason = f"no pending CALL with id {frame.message_id!r} on this connection"
            return FrameVerification(frame, self._all_malformed(ctx, payload, sigs, where, reason))
        elif call.request is None:  # the CALL has no canonical form (SPEC §2 exact reading)
            ctx = {
                "ocpp": ocpp,
                "station": normalize_station(station),
                "action": call.action,
                "kind": kind.value,
            }
            where, sigs, _problems = find_signatures(carrier_obj)
            reason = (
                f"the {call.action} CALL it answers has no canonical form (a number beyond "
                "I-JSON), so no signature can be bound to it"
            )
            return FrameVerification(frame, self._all_malformed(ctx, payload, sigs, where, reason))
        else:
            ctx = frame_context(ocpp, station, call.action, kind, call.request)
        verification = self._verify(
            carrier_obj,
            payload,
            ctx,
            frame.jcs_safe,
            now,
            True,
            check_freshness,
            identity,
        )
        return FrameVerification(frame, verification)

    # ------------------------------------------------------------------ structures

    def verify_object(
        self,
        obj: Mapping[str, Any] | bytes | str,
        *,
        context: Mapping[str, Any],
        now: datetime,
        require_nonce: bool = False,
        check_freshness: bool = False,
    ) -> Verification:
        """Verify a standalone structure (SPEC §6) or any signed object under ``context``.

        Bytes and text go through the strict reader of SPEC §2. §6 structures have no freshness
        window; their own validity is checked by the code that consumes them.
        """
        if isinstance(obj, bytes | str):
            parsed = parse(obj)
            value, safe = parsed.value, parsed.jcs_safe
        else:
            value, safe = obj, False
        if not isinstance(value, dict):
            raise InputError("a signed structure is a JSON object", "$")
        return self._verify(
            value,
            signing_payload(value),
            dict(context),
            safe,
            now,
            require_nonce,
            check_freshness,
            None,
        )

    # ------------------------------------------------------------------ internals

    def _all_malformed(
        self, ctx: Mapping[str, Any], payload: Any, sigs: Any, where: str | None, reason: str
    ) -> Verification:
        count = len(sigs) if isinstance(sigs, list) else (1 if sigs is not None else 0)
        results = tuple(SignatureResult(i, Outcome.MALFORMED, reason) for i in range(count))
        return Verification(ctx, payload, results, (reason,) if count else (), where)

    def _verify(
        self,
        carrier_obj: dict[str, Any],
        payload: Any,
        ctx: Mapping[str, Any],
        safe: bool,
        now: datetime,
        require_nonce: bool,
        fresh: bool,
        identity: str | None,
    ) -> Verification:
        where, sigs, problems = find_signatures(carrier_obj)
        if problems:
            return self._all_malformed(ctx, payload, [None], None, problems[0])
        if sigs is None:
            return Verification(ctx, payload, (), (), None)
        if not isinstance(sigs, list):
            return self._all_malformed(
                ctx, payload, [None], where, "signatures must be a non-empty array"
            )
        if not sigs:
            return self._all_malformed(ctx, payload, [None], where, "signatures is an empty array")
        if len(sigs) > MAX_SIGNATURES:
            raise InputError(
                f"{len(sigs)} signatures on one object; at most {MAX_SIGNATURES}", where
            )
        first = sigs[0]
        if isinstance(first, dict) and first.get("chained") is True:
            return self._all_malformed(
                ctx, payload, sigs, where, "the first signature cannot be chained"
            )
        receiver = identity if identity is not None else self.identity
        # Keys of the context are fixed ASCII names, so sorting and escaping need no checks.
        shared = _Shared(ctx, payload, safe)
        results = tuple(
            [
                self._one(i, sig, sigs, shared, now, require_nonce, fresh, receiver)
                for i, sig in enumerate(sigs)
            ]
        )
        return Verification(ctx, payload, results, (), where)

    def _one(
        self,
        index: int,
        sig: Any,
        sigs: Sequence[Any],
        shared: _Shared,
        now: datetime,
        require_nonce: bool,
        fresh: bool,
        receiver: str | None,
    ) -> SignatureResult:
        try:
            kid, alg, value, ts_text, ts = _check_members(sig, require_nonce)
        except _Malformed as exc:
            bad = sig.get("keyId") if type(sig) is dict and type(sig.get("keyId")) is str else None
            return SignatureResult(index, Outcome.MALFORMED, str(exc), key_id=bad)
        row = ALGORITHMS.get(alg)
        if row is None:
            return _result(
                index,
                Outcome.UNSUPPORTED_ALGORITHM,
                f"algorithm {alg!r} is not supported (use {', '.join(ALGORITHMS)})",
                sig,
            )
        if len(value) != row.signature_length:
            return _result(
                index,
                Outcome.MALFORMED,
                f"an {alg} value has {row.signature_length} bytes, this one {len(value)}",
                sig,
            )

        # -- which key? The keyring, else a certificate chain; an embedded key never grants trust.
        embedded = sig.get("publicKey")
        certs = sig.get("certificates")
        chain: tuple[bytes, ...] | None = None
        try:
            if embedded is not None:
                embedded_key, embedded_kid = _embedded_key(embedded)
                if embedded_kid != kid:
                    raise _Malformed("keyId does not match the fingerprint of publicKey")
            if certs is not None:
                if type(certs) is not list or not all(type(c) is str for c in certs):
                    raise _Malformed("certificates must be a non-empty array of base64 strings")
                chain = _decode_chain(tuple(certs))
                if key_id(_leaf_spki(chain[0])) != kid:
                    raise _Malformed("keyId does not match the key of the leaf certificate")
        except _Malformed as exc:
            return _result(index, Outcome.MALFORMED, str(exc), sig)
        entry = self.keyring.lookup(kid)
        who: _Who
        if chain is not None:
            if self.certificates is None:
                return _result(
                    index,
                    Outcome.UNTRUSTED_CERTIFICATE,
                    "the signature carries certificates but no trust anchors are configured",
                    sig,
                )
            verdict = self.certificates.validate(chain, at=ts, now=now)
            if not verdict.ok:
                return _result(index, Outcome.UNTRUSTED_CERTIFICATE, verdict.reason, sig)
            if entry is not None:
                info, key, key_alg = entry
                who = _Who(info.identity, info.roles, verdict.usages, verdict.issuers)
            else:
                assert verdict.leaf_spki is not None
                try:
                    key, key_alg = _leaf_key(verdict.leaf_spki)
                except KeyLoadError as exc:  # e.g. an Ed25519 key of small order, another curve
                    return _result(
                        index, Outcome.MALFORMED, f"the leaf certificate's key: {exc}", sig
                    )
                who = _Who(verdict.identity, frozenset(), verdict.usages, verdict.issuers)
        elif entry is not None:
            info, key, key_alg = entry
            who = _Who(info.identity, info.roles, frozenset(), ())
        elif embedded is not None:
            ok = row.verify(embedded_key, value, shared.input_for(sig, sigs, index))
            reason = (
                f"key {kid} is not in the keyring; the signature verifies only under its embedded publicKey, which grants no trust"
                if ok
                else f"key {kid} is not in the keyring, and the signature does not verify under its embedded publicKey either"
            )
            return _result(index, Outcome.UNKNOWN_KEY, reason, sig)
        else:
            return _result(
                index,
                Outcome.UNKNOWN_KEY,
                f"key {kid} is not in the keyring and no certificate vouches for it",
                sig,
            )

        if key_alg != alg:
            return _result(
                index,
                Outcome.INVALID,
                f"algorithm {alg} does not match the signer's {key_alg} key",
                sig,
                who,
            )
        data = shared.input_for(sig, sigs, index)
        if not row.verify(key, value, data):
            return _result(
                index,
                Outcome.INVALID,
                "the signature does not verify: the message or a signed member was changed",
                sig,
                who,
            )
        if fresh:
            # Differences, not now ± window: a timestamp or receipt time at the edge of the
            # calendar (year 1 or 9999) must get a verdict, not an OverflowError.
            if now - ts > self._window:
                return _result(
                    index,
                    Outcome.EXPIRED,
                    f"signed at {ts_text}, older than maxSignatureAge {_fmt(self.max_signature_age)} plus clockSkew {_fmt(self.clock_skew)} at {now.isoformat()}",
                    sig,
                    who,
                )
            if ts - now > self.clock_skew:
                return _result(
                    index,
                    Outcome.EXPIRED,
                    f"signed at {ts_text}, later than now {now.isoformat()} plus clockSkew {_fmt(self.clock_skew)}",
                    sig,
                    who,
                )
            if self.not_before is not None and ts < self.not_before:
                return _result(
                    index,
                    Outcome.EXPIRED,
                    f"signed at {ts_text}, before this verifier started at {self.not_before.isoformat()}; "
                    "its replay cache does not survive restarts, so earlier signatures are refused",
                    sig,
                    who,
                )
        destination = sig.get("destination")
        if destination is not None and destination != receiver:
            shown = repr(receiver) if receiver is not None else "not configured"
            return _result(
                index,
                Outcome.WRONG_DESTINATION,
                f"addressed to {destination!r}; this receiver is {shown}",
                sig,
                who,
            )
        if self.replay_cache is not None:
            digest = hashlib.sha256(data).digest()
            seen = self.replay_cache.check_and_add(kid, digest, _expiry(ts, self._window), now)
            if seen:
                reason = f"this signature of {who.identity} was already seen (same key and signing input)"
                return _result(index, Outcome.REPLAYED, reason, sig, who, digest.hex())
            return _result(
                index, Outcome.VALID, f"valid signature of {who.identity}", sig, who, digest.hex()
            )
        return _result(index, Outcome.VALID, f"valid signature of {who.identity}", sig, who)


class _Who(NamedTuple):
    """The signer behind a trusted key."""

    identity: str | None
    roles: frozenset[str]
    usages: frozenset[str]
    issuers: tuple[str, ...]


def _result(
    index: int,
    outcome: Outcome,
    reason: str,
    sig: dict[str, Any],
    who: _Who | None = None,
    digest: str | None = None,
) -> SignatureResult:
    get = sig.get
    if who is None:
        return SignatureResult(
            index,
            outcome,
            reason,
            key_id=get("keyId"),
            algorithm=get("algorithm"),
            timestamp=get("timestamp"),
            chained=get("chained") is True,
            destination=get("destination"),
            claimed_name=get("name"),
        )
    return SignatureResult(
        index,
        outcome,
        reason,
        get("keyId"),
        get("algorithm"),
        get("timestamp"),
        who.identity,
        True,
        who.roles,
        who.usages,
        who.issuers,
        get("chained") is True,
        get("destination"),
        get("name"),
        digest,
    )


def _expiry(ts: datetime, window: timedelta) -> datetime:
    """When a replay-cache entry may go: ``ts + window``, at most the last moment of the calendar."""
    last = datetime.max.replace(tzinfo=UTC)
    return last if ts > last - window else ts + window


def _fmt(delta: timedelta) -> str:
    return f"{int(delta.total_seconds())} s"


class _Shared:
    """What all signatures of one object share: the context and payload, and (for chained
    signatures, lazily) their JCS."""

    __slots__ = ("context", "context_jcs", "payload", "payload_jcs", "safe")

    def __init__(self, context: Mapping[str, Any], payload: Any, safe: bool) -> None:
        self.context = context
        self.context_jcs: bytes | None = None
        self.payload = payload
        self.payload_jcs: bytes | None = None
        self.safe = safe

    def input_for(self, sig: Mapping[str, Any], sigs: Sequence[Any], index: int) -> bytes:
        unsigned = {k: v for k, v in sig.items() if k != "value"}
        if sig.get("chained") is True:
            if self.payload_jcs is None or self.context_jcs is None:
                # Context keys are fixed ASCII names: sorting and escaping need no checks.
                self.context_jcs = orjson.dumps(self.context, option=orjson.OPT_SORT_KEYS)
                self.payload_jcs = _dumps_parsed(self.payload, self.safe)
            previous = _dumps_parsed(list(sigs[:index]), self.safe)
            return _signing_input(
                self.context_jcs, self.payload_jcs, _dumps_parsed(unsigned, self.safe), previous
            )
        # The common case, one canonicalization for the whole input (context keys are fixed ASCII).
        return _dumps_parsed(
            {"context": self.context, "payload": self.payload, "signature": unsigned}, self.safe
        )


@lru_cache(maxsize=256)
def _decode_chain(certs: tuple[str, ...]) -> tuple[bytes, ...]:
    if not certs:
        raise _Malformed("certificates must be a non-empty array of base64 strings")
    if len(certs) > MAX_CERTIFICATES:
        raise _Malformed(f"{len(certs)} certificates; at most {MAX_CERTIFICATES}")
    try:
        return tuple(b64_decode(c) for c in certs)
    except Base64Error as exc:
        raise _Malformed(f"certificates: {exc}") from exc


def _check_members(sig: Any, require_nonce: bool) -> tuple[str, str, bytes, str, datetime]:
    """Structural checks of SPEC §1 by the one table of :mod:`ocpp_e2e.members`, whatever kind
    of object the signature signs; returns (keyId, algorithm, raw value, timestamp text, time)."""
    if type(sig) is not dict:
        raise _Malformed("a signature must be a JSON object")
    problem = member_problem(sig, frame=require_nonce)
    if problem is not None:
        raise _Malformed(problem)
    ts_text = sig["timestamp"]
    return (
        sig["keyId"],
        sig["algorithm"],
        b64url_decode_checked(sig["value"]),  # member_problem found it canonical
        ts_text,
        datetime.fromisoformat(ts_text),
    )
