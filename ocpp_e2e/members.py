"""The member rules of a SPEC §1 signature object: one table, used by the signer and the verifier
for frames and every §6 structure (tariff, ticket, presentation, receipt, policy) alike.

Each row names a member, whether it is required (always, or on frame signatures only) and the
check of its value; :func:`member_problem` applies the whole table to one signature object and
returns the first problem in words. The verifier calls it before any cryptography (a problem is
``malformed``); the signer calls it on the signature object it is about to sign (a problem is a
:class:`~ocpp_e2e.errors.SigningError`), so nothing this project signs is refused by its own
verifier.

>>> member_problem({"keyId": "AAAA", "algorithm": "Ed25519", "value": "AA", "timestamp": "x"},
...                frame=False)
'keyId must be base64url of a SHA-256 digest (43 characters)'
>>> sorted(MEMBER_RULES) == sorted(["keyId", "algorithm", "value", "timestamp", "nonce",
...     "destination", "chained", "publicKey", "certificates", "name", "description"])
True
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from ._b64 import Base64Error, b64_decode, b64url_problem, b64url_size
from ._time import SPEC_TIMESTAMP

#: SPEC §1 limits.
MAX_NAME = 256
MAX_DESCRIPTION = 256
MAX_CERTIFICATES = 4
NONCE_BYTES = (12, 32)


class Required(enum.Enum):
    """When a member must be present."""

    ALWAYS = "always"
    FRAMES = "on frame signatures"
    NO = "no"


class MemberRule(NamedTuple):
    """One row of the table: when the member is required, and the check of its value (``None``
    when the value is fine, else the problem in words, naming the member)."""

    required: Required
    check: Callable[[Any], str | None]
    meaning: str


# Key ids already seen to be well formed (a string's form never changes: only a cache).
_GOOD_KEY_IDS: set[str] = set()


def _key_id(value: Any) -> str | None:
    if type(value) is not str:
        return "keyId is required and must be a string"
    if value in _GOOD_KEY_IDS:
        return None
    problem = b64url_problem(value)
    if problem is not None:
        return f"keyId: {problem}"
    if b64url_size(value) != 32:
        return "keyId must be base64url of a SHA-256 digest (43 characters)"
    if len(_GOOD_KEY_IDS) < 65536:
        _GOOD_KEY_IDS.add(value)
    return None


def _algorithm(value: Any) -> str | None:
    # Which algorithms are supported is the verifier's verdict (unsupported-algorithm), not form.
    return None if type(value) is str else "algorithm is required and must be a string"


def _value(value: Any) -> str | None:
    if type(value) is not str:
        return "value is required and must be a string"
    problem = b64url_problem(value)
    return None if problem is None else f"value: {problem}"


def _timestamp(value: Any) -> str | None:
    if type(value) is not str:
        return "timestamp is required and must be a string"
    if SPEC_TIMESTAMP.fullmatch(value) is None:
        return "timestamp must be UTC in the form YYYY-MM-DDTHH:MM:SS[.mmm]Z"
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        return f"timestamp is not a real date and time ({exc})"
    return None


def _nonce(value: Any) -> str | None:
    if type(value) is not str:
        return "nonce must be a base64url string"
    problem = b64url_problem(value)
    if problem is not None:
        return f"nonce: {problem}"
    size = b64url_size(value)
    low, high = NONCE_BYTES
    if not low <= size <= high:
        return f"nonce must be {low} to {high} random bytes, this one has {size}"
    return None


def _destination(value: Any) -> str | None:
    return None if type(value) is str else "destination must be a string"


def _chained(value: Any) -> str | None:
    return None if type(value) is bool else "chained must be true or false"


def _public_key(value: Any) -> str | None:
    # Decoded and checked as a key (SPEC §1 SPKI rules) by the verifier, which reports the reason.
    return None if type(value) is str else "publicKey must be a base64url string"


def _certificates(value: Any) -> str | None:
    if type(value) is not list or not value or not all(type(c) is str for c in value):
        return "certificates must be a non-empty array of base64 strings"
    if len(value) > MAX_CERTIFICATES:
        return f"{len(value)} certificates; at most {MAX_CERTIFICATES}"
    try:
        for text in value:
            b64_decode(text)
    except Base64Error as exc:
        return f"certificates: {exc}"
    return None


def _name(value: Any) -> str | None:
    if type(value) is not str or len(value) > MAX_NAME:
        return f"name must be a string of at most {MAX_NAME} characters"
    return None


def _description(value: Any) -> str | None:
    if type(value) is not dict or not all(
        type(v) is str and len(v) <= MAX_DESCRIPTION for v in value.values()
    ):
        return (
            f"description must be a language map of strings of at most {MAX_DESCRIPTION} characters"
        )
    return None


#: SPEC §1: every member a signature object may have, in the order they are checked.
MEMBER_RULES: Mapping[str, MemberRule] = {
    "keyId": MemberRule(Required.ALWAYS, _key_id, "base64url SHA-256 of the signer's SPKI DER"),
    "algorithm": MemberRule(Required.ALWAYS, _algorithm, "Ed25519, ES256, ES384, ES512, ..."),
    "value": MemberRule(Required.ALWAYS, _value, "base64url of the raw signature"),
    "timestamp": MemberRule(Required.ALWAYS, _timestamp, "time of signing, UTC"),
    "nonce": MemberRule(Required.FRAMES, _nonce, "base64url of 12 to 32 random bytes"),
    "destination": MemberRule(Required.NO, _destination, "the intended receiver"),
    "chained": MemberRule(Required.NO, _chained, "covers every signature before it"),
    "publicKey": MemberRule(Required.NO, _public_key, "base64url SPKI DER; grants no trust"),
    "certificates": MemberRule(Required.NO, _certificates, "base64 DER X.509, leaf first, ≤ 4"),
    "name": MemberRule(Required.NO, _name, "display name, ≤ 256 characters, informational"),
    "description": MemberRule(Required.NO, _description, "language map, ≤ 256 characters a value"),
}


def member_problem(sig: Mapping[str, Any], *, frame: bool) -> str | None:
    """The first problem of signature object ``sig`` under :data:`MEMBER_RULES`, or None.

    ``frame`` says whether it signs a frame (``nonce`` is then required). Unknown members are a
    problem; every present member is checked, whatever else is present or missing.
    """
    if not sig.keys() <= _MEMBERS:
        unknown = sig.keys() - _MEMBERS
        return f"unknown member(s) {', '.join(sorted(unknown))}"
    # The members present, then the required ones that are missing; problems are rare, and the
    # first in the table's order is the one reported.
    if all(_CHECKS[member](value) is None for member, value in sig.items()) and (
        _REQUIRED_ON_FRAMES if frame else _REQUIRED
    ) <= sig.keys():
        return None
    for member, rule in MEMBER_RULES.items():
        if member in sig:
            problem = rule.check(sig[member])
            if problem is not None:
                return problem
        elif rule.required is Required.ALWAYS or (rule.required is Required.FRAMES and frame):
            if member == "nonce":
                return "nonce is required on frame signatures"
            return f"{member} is required and must be a string"
    return None


_MEMBERS = frozenset(MEMBER_RULES)
_CHECKS = {member: rule.check for member, rule in MEMBER_RULES.items()}
_REQUIRED = frozenset(m for m, rule in MEMBER_RULES.items() if rule.required is Required.ALWAYS)
_REQUIRED_ON_FRAMES = _REQUIRED | {
    m for m, rule in MEMBER_RULES.items() if rule.required is Required.FRAMES
}


__all__ = [
    "MAX_CERTIFICATES",
    "MAX_DESCRIPTION",
    "MAX_NAME",
    "MEMBER_RULES",
    "NONCE_BYTES",
    "MemberRule",
    "Required",
    "member_problem",
]
