"""Signing (SPEC §1, §3): add signatures to frames and structures.

>>> from datetime import UTC, datetime
>>> from ocpp_e2e.keys import KeySigner, generate_private_key
>>> signer = KeySigner(generate_private_key("Ed25519"))
>>> text = sign_frame('[2,"1","Reset",{"type":"Immediate"}]', signer, ocpp="2.0.1", station="CS-1",
...                   timestamp=datetime(2026, 11, 22, 10, tzinfo=UTC))
>>> '"customData"' in text
True
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from ._b64 import b64_encode, b64url_encode
from ._time import format_timestamp
from .canonical import _dumps_parsed, dumps, parse
from .context import (
    VENDOR_ID,
    PendingCall,
    find_signatures,
    frame_context,
    frame_kind,
    signing_payload,
)
from .errors import SigningError
from .frames import Frame, MessageType, parse_frame
from .keys import Signer
from .members import MAX_CERTIFICATES, member_problem
from .model import Kind
from .versions import VERSIONS, Carrier

__all__ = [
    "MAX_SIGNATURES",
    "sign_frame",
    "sign_object",
]

# 16 digits in a row (digits read '0', all else ' '): a translation and a substring test are
# 20 times faster than a regular expression with a leading character class.
_DIGITS = bytes(ord("0") if chr(c) in "0123456789" else ord(" ") for c in range(256))
_LONG_RUN = b"0" * 16
_BIG_INTEGER = re.compile(rb"[:\[,]-?[0-9]{16,}(?=[,}\]])")
MAX_SIGNATURES = 16


def _signers(signers: Signer | Sequence[Signer]) -> list[Signer]:
    # A list or tuple of signers, else one signer (isinstance on the runtime-checkable Signer
    # protocol costs as much as canonicalizing a small payload).
    out: list[Signer] = (
        list(signers) if isinstance(signers, list | tuple) else [signers]  # type: ignore[list-item]
    )
    if not out:
        raise SigningError("no signer given")
    return out


def _signing_input(
    context: bytes, payload: bytes, signature: bytes, previous: bytes | None
) -> bytes:
    """The JCS bytes of the SPEC §3 signing input, from the JCS bytes of its members.

    RFC 8785 sorts the members ``context`` < ``payload`` < ``previous`` < ``signature``; the members'
    values are canonical already, so joining them is the canonical form of the whole, and the
    (large) payload is canonicalized once however many signatures it carries.
    """
    middle = b',"previous":' + previous if previous is not None else b""
    return (
        b'{"context":'
        + context
        + b',"payload":'
        + payload
        + middle
        + b',"signature":'
        + signature
        + b"}"
    )


def _plain(obj: Any) -> tuple[Any, bool]:
    """A fresh plain-JSON copy of ``obj`` through the strict reader, and its ``jcs_safe`` flag.

    Writing with ``allow_nan=False`` refuses NaN and non-JSON types; reading back refuses what SPEC
    §2 refuses (big integers, numbers that do not survive a double), so nothing unverifiable is
    ever signed.
    """
    parsed = parse(_json_text(obj))
    return parsed.value, parsed.jcs_safe


def _json_text(obj: Any) -> str:
    try:
        return json.dumps(obj, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise SigningError(f"not a JSON value: {exc}") from exc


def sign_object(
    obj: Mapping[str, Any],
    signers: Signer | Sequence[Signer],
    *,
    context: Mapping[str, Any],
    carrier: Carrier = "top",
    nonce: bool = False,
    destination: str | None = None,
    chained: bool = False,
    timestamp: datetime,
    embed_public_key: bool = False,
    name: str | None = None,
    description: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return a copy of ``obj`` with one signature per signer appended in ``carrier``.

    Existing signatures are kept (they may sit in either carrier; new ones join them). With
    ``chained=True`` each new signature also covers every signature before it (a relaying node's
    endorsement); chaining needs at least one earlier signature.
    """
    plain, safe = _plain(obj)
    if not isinstance(plain, dict):
        raise SigningError("only a JSON object can carry signatures")
    return _sign_plain(
        plain,
        safe,
        signers,
        context=context,
        carrier=carrier,
        nonce=nonce,
        destination=destination,
        chained=chained,
        timestamp=timestamp,
        embed_public_key=embed_public_key,
        name=name,
        description=description,
    )


def _sign_plain(
    result: dict[str, Any],
    safe: bool,
    signers: Signer | Sequence[Signer],
    *,
    context: Mapping[str, Any],
    carrier: Carrier = "top",
    nonce: bool = False,
    destination: str | None = None,
    chained: bool = False,
    timestamp: datetime,
    embed_public_key: bool = False,
    name: str | None = None,
    description: Mapping[str, str] | None = None,
    jcs_out: list[bytes] | None = None,
) -> dict[str, Any]:
    """:func:`sign_object` on a plain JSON object of the strict reader's that may be changed.

    With ``jcs_out`` (and ``safe``) the RFC 8785 form of the signed object is appended to it,
    assembled from the members' forms written for the signing input (no second writing).
    """
    where, existing, problems = find_signatures(result)
    if problems:
        raise SigningError(problems[0])
    if existing is not None and (not isinstance(existing, list) or not existing):
        raise SigningError("the object's signatures member is not a non-empty array")
    if where is not None:
        carrier = "top" if where == "top" else "customData"
    sigs: list[Any] = list(existing or [])
    payload = signing_payload(result)
    runs: list[bytes] | None = None
    if safe:
        # The members other than the carriers are written in at most three runs (those before
        # "customData", between it and "signatures", after it): the same bytes serve the
        # signing input and the signed object.
        runs = _runs(payload)
        payload_jcs = _assemble(runs, payload)
    else:
        payload_jcs = _dumps_parsed(payload, safe)
    context_jcs = _strings_jcs(context)
    when = format_timestamp(timestamp)
    for signer in _signers(signers):
        if len(sigs) >= MAX_SIGNATURES:
            raise SigningError(f"an object carries at most {MAX_SIGNATURES} signatures")
        if chained and not sigs:
            raise SigningError("a chained signature needs an earlier signature to endorse")
        sig: dict[str, Any] = {
            "keyId": signer.key_id,
            "algorithm": signer.algorithm,
            "timestamp": when,
        }
        if nonce:
            sig["nonce"] = b64url_encode(os.urandom(16))
        if destination is not None:
            sig["destination"] = destination
        if chained:
            sig["chained"] = True
        if embed_public_key:
            sig["publicKey"] = b64url_encode(signer.public_key_der)
        if signer.certificates:
            if len(signer.certificates) > MAX_CERTIFICATES:
                raise SigningError(
                    f"at most {MAX_CERTIFICATES} certificates travel with a signature"
                )
            sig["certificates"] = [b64_encode(c) for c in signer.certificates]
        if name is not None:
            sig["name"] = name
        if description is not None:
            sig["description"] = dict(description)
        # The verifier's own table (SPEC §1): never sign what a verifier would call malformed.
        problem = member_problem({**sig, "value": ""}, frame=nonce)
        if problem is not None:
            raise SigningError(f"the signature would be malformed: {problem}")
        # New signatures may hold a caller's description, whose keys the reader never saw.
        previous = _dumps_parsed(sigs, safe and description is None) if chained else None
        # The signature object is built here of strings, true and lists of strings; only a
        # caller's description goes through the checking writer.
        sig_jcs = _strings_jcs(sig) if description is None else dumps(sig)
        data = _signing_input(context_jcs, payload_jcs, sig_jcs, previous)
        sig["value"] = b64url_encode(signer.sign(data))
        sigs.append(sig)
    if carrier == "top":
        result["signatures"] = sigs
    else:
        custom = result.get("customData")
        if custom is None:
            custom = {"vendorId": VENDOR_ID}
        elif not isinstance(custom, dict):
            raise SigningError("customData is not an object")
        result["customData"] = {**custom, "signatures": sigs}
    if jcs_out is not None and runs is not None:
        # The new signatures hold strings, true and lists of strings; a caller's description
        # goes through the checking writer.
        jcs_out.append(_assemble(runs, result, description is None))
    return result


_CARRIERS = ("customData", "signatures")  # in RFC 8785 order


def _runs(obj: dict[str, Any]) -> list[bytes]:
    """The RFC 8785 forms of the members of ``obj`` other than the carriers, as three runs of
    ``"name":value`` pairs: names before "customData", between it and "signatures", after it."""
    parts: list[dict[str, Any]] = [{}, {}, {}]
    for k, v in obj.items():
        if k not in _CARRIERS:
            parts[(k > "customData") + (k > "signatures") if k.isascii() else _run_of(k)][k] = v
    return [_dumps_parsed(part, True)[1:-1] if part else b"" for part in parts]


def _run_of(name: str) -> int:
    code_units = name.encode("utf-16-be")
    return sum(code_units > carrier.encode("utf-16-be") for carrier in _CARRIERS)


def _assemble(runs: list[bytes], obj: dict[str, Any], plain: bool = True) -> bytes:
    """The RFC 8785 form of ``obj`` from :func:`_runs` of its other members and its carriers."""
    pieces = [runs[0]]
    for carrier, run in zip(_CARRIERS, runs[1:], strict=True):
        if carrier in obj:
            pieces.append(b'"' + carrier.encode() + b'":' + _dumps_parsed(obj[carrier], plain))
        pieces.append(run)
    return b"{" + b",".join([piece for piece in pieces if piece]) + b"}"


def _strings_jcs(obj: Mapping[str, Any]) -> bytes:
    """The RFC 8785 form of a CONTEXT or of a signature object built here: with ASCII member
    names and values that are strings, true or lists of strings (no number to rewrite, no name
    to order by UTF-16), orjson's sorted writing is it; anything else goes through the checking
    writer."""
    if all(
        type(k) is str and k.isascii() and (type(v) is str or v is True or type(v) is list)
        for k, v in obj.items()
    ) and all(type(x) is str for v in obj.values() if type(v) is list for x in v):
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    return dumps(dict(obj))


def sign_frame(
    frame: str | bytes | list[Any] | Frame,
    signers: Signer | Sequence[Signer],
    *,
    ocpp: str,
    station: str,
    call: PendingCall | Frame | str | bytes | list[Any] | None = None,
    destination: str | None = None,
    chained: bool = False,
    timestamp: datetime,
    embed_public_key: bool = False,
    name: str | None = None,
) -> str:
    """Sign an OCPP-J frame and return its text.

    The carrier follows SPEC §1: ``customData`` for OCPP 2.0.1/2.1 payloads (so peers without
    ocpp-e2e still accept the frame), top level for 1.6 and for CALLERROR details. For a response or
    error give ``call``: the CALL it answers (frame or :class:`PendingCall`).
    """
    if isinstance(frame, Frame):
        parsed = frame
    elif isinstance(frame, list):
        parsed = parse_frame(_json_text(frame), ocpp=ocpp)
    else:
        parsed = parse_frame(frame, ocpp=ocpp)
    kind = frame_kind(parsed)
    if parsed.is_call:
        assert parsed.action is not None
        ctx = frame_context(ocpp, station, parsed.action, kind)
    else:
        if call is None:
            raise SigningError(f"signing a {kind.value} needs the CALL it answers")
        pending = (
            call
            if isinstance(call, PendingCall)
            else PendingCall.of(call if isinstance(call, Frame) else parse_frame(call, ocpp=ocpp))
        )
        if pending.message_id != parsed.message_id:
            raise SigningError(
                f"the response id {parsed.message_id!r} does not answer the CALL id {pending.message_id!r}"
            )
        ctx = frame_context(ocpp, station, pending.action, kind, pending.request)
    options: dict[str, Any] = {
        "context": ctx,
        "nonce": True,
        "destination": destination,
        "chained": chained,
        "timestamp": timestamp,
        "embed_public_key": embed_public_key,
        "name": name,
    }
    value = list(parsed.value)
    signed: list[bytes] = []  # the RFC 8785 form of the signed payload, when written on the way
    if kind in (Kind.ERROR, Kind.RESULT_ERROR):
        assert parsed.error_details is not None
        details_payload = signing_payload(parsed.error_details)
        signed_details = _sign_error_details(parsed, details_payload, signers, options)
        value[4] = signed_details
    else:
        carrier: Carrier = VERSIONS[ocpp].carrier
        index = 3 if parsed.type in (MessageType.CALL, MessageType.SEND) else 2
        if parsed.jcs_safe:
            # The payload from the strict reader is plain JSON already: a copy of its top level,
            # which signing changes, is enough.
            value[index] = _sign_plain(
                dict(parsed.payload), True, signers, carrier=carrier, jcs_out=signed, **options
            )
        else:
            value[index] = sign_object(parsed.payload, signers, carrier=carrier, **options)
    # The wire form is the RFC 8785 form of the frame: valid JSON for every peer, and numbers and
    # member order already canonical, which keeps verification on its fast path. The envelope
    # holds the message type (an integer) and strings.
    wire = (
        b"[" + b",".join([orjson.dumps(x) for x in value[:-1]] + signed) + b"]"
        if signed
        else _dumps_parsed(value, parsed.jcs_safe)
    )
    # RFC 8785 writes an integral double of 2^53 or more (1e16) as an integer literal, which SPEC §2
    # readers refuse; such a frame keeps an exponent (orjson: 1e16, json.dumps: 1e+16) instead.
    # Only a run of 16 digits can be such a literal; a number-like run inside a string takes the
    # same (valid, only not canonical) spelling.
    if _LONG_RUN in wire.translate(_DIGITS) and _BIG_INTEGER.search(wire) is not None:
        return orjson.dumps(value).decode("utf-8") if parsed.jcs_safe else _json_text(value)
    return wire.decode("utf-8")


def _sign_error_details(
    parsed: Frame,
    details_payload: dict[str, Any],
    signers: Signer | Sequence[Signer],
    options: dict[str, Any],
) -> dict[str, Any]:
    # The signed object of an error is {errorCode, errorDescription, errorDetails}; its signatures
    # live in errorDetails.signatures. Sign a wrapper and move the signatures into the details.
    assert parsed.error_details is not None
    wrapper = {**parsed.payload, "errorDetails": details_payload}
    where, existing, _ = find_signatures(parsed.error_details)
    if existing is not None:
        wrapper["signatures"] = existing
    signed = (
        _sign_plain(wrapper, True, signers, carrier="top", **options)
        if parsed.jcs_safe
        else sign_object(wrapper, signers, carrier="top", **options)
    )
    details = dict(parsed.error_details)
    if where == "customData":
        custom = dict(details["customData"])
        custom["signatures"] = signed["signatures"]
        details["customData"] = custom
    else:
        details["signatures"] = signed["signatures"]
    return details
