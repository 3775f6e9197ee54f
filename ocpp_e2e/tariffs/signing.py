"""Signing and verifying tariffs (SPEC §6): who signed this price, and may they sign prices?

A tariff is signed with CONTEXT ``{"type": "Tariff"}``, its signatures in ``customData`` so that
the signed tariff stays a valid OCPP 2.1 ``TariffType``. Only a ``tariffSigning`` signer may sign:

- a signer with a certificate chain needs the effective usage ``tariffSigning`` (SPEC §5: the
  leaf's EKU intersected along the chain), checked with the caller's certificate validator;
- a signer without certificates needs a keyring entry holding the role ``tariffSigning``.

The same rule decides verification: a tariff is accepted when no signature is ``invalid`` and at
least one valid, trusted signature comes from a key with that usage or role.

Its digest (what receipts and tickets name it by) is base64url SHA-256 of the JCS of its signing
payload, so it does not change when signatures are added.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._b64 import b64url_encode
from ..canonical import dumps, parse
from ..context import signing_payload, structure_context
from ..errors import InputError, SigningError, TariffError
from ..keys import Keyring, Signer
from ..model import CertificateValidator, Outcome, SignatureResult, Verification
from ..sign import sign_object
from ..verify import Verifier
from .schema import validate_tariff

__all__ = [
    "TARIFF_CONTEXT",
    "TARIFF_SIGNING",
    "TariffVerdict",
    "TariffVerification",
    "check_tariff_signer",
    "load_tariff",
    "may_sign_tariffs",
    "sign_tariff",
    "tariff_digest",
    "verify_tariff",
]

#: The SPEC §5 usage (or keyring role) a tariff signer must hold.
TARIFF_SIGNING = "tariffSigning"
#: CONTEXT of a tariff signature (SPEC §3, §6).
TARIFF_CONTEXT: Mapping[str, str] = structure_context("Tariff")


def load_tariff(data: bytes | str | Mapping[str, Any], *, source: str = "tariff") -> dict[str, Any]:
    """Read a tariff strictly (SPEC §2 I-JSON) and check it is an OCPP 2.1 ``TariffType``."""
    if isinstance(data, Mapping):
        value: Any = dict(data)
    else:
        try:
            value = parse(data).value
        except InputError as exc:
            raise exc.with_source(source) from None
    if not isinstance(value, dict):
        raise TariffError("a tariff is a JSON object", "$", source=source)
    validate_tariff(value, source=source)
    return value


def tariff_digest(tariff: Mapping[str, Any]) -> str:
    """base64url SHA-256 of the JCS of the tariff's signing payload (SPEC §6).

    >>> tariff_digest({"tariffId": "t1", "currency": "EUR"})
    'aPe19LBoUn82V5X2frTU0J_GMOBgnorQU_R8nkW_ulc'
    """
    return b64url_encode(hashlib.sha256(dumps(signing_payload(dict(tariff)))).digest())


def check_tariff_signer(
    signer: Signer,
    *,
    keyring: Keyring | None = None,
    certificates: CertificateValidator | None = None,
    now: datetime,
) -> str:
    """Return who the signer is if it may sign tariffs; raise :class:`SigningError` otherwise."""
    moment = now
    if signer.certificates:
        if certificates is None:
            raise SigningError(
                "the signer carries certificates; give the trust anchors to check its "
                "tariffSigning usage"
            )
        chain = certificates.validate(list(signer.certificates), at=moment, now=moment)
        if not chain.ok:
            raise SigningError(f"the signer's certificate chain is not trusted: {chain.reason}")
        if chain.leaf_spki != signer.public_key_der:
            raise SigningError("the signing key does not match the leaf certificate of its chain")
        if TARIFF_SIGNING not in chain.usages:
            held = ", ".join(sorted(chain.usages)) or "none"
            raise SigningError(
                f"certificate identity {chain.identity} may not sign tariffs: "
                f"its usages are {held}, "
                f"{TARIFF_SIGNING} is required"
            )
        return f"{chain.identity} (certificate usage {TARIFF_SIGNING})"
    entry = keyring.get(signer.key_id) if keyring is not None else None
    if entry is None:
        raise SigningError(
            f"key {signer.key_id} has no certificate and no keyring entry: "
            "signing a tariff needs a "
            f"certificate with usage {TARIFF_SIGNING} or a keyring entry with role {TARIFF_SIGNING}"
        )
    if TARIFF_SIGNING not in entry.roles:
        held = ", ".join(sorted(entry.roles)) or "none"
        raise SigningError(
            f"keyring entry {entry.identity} may not sign tariffs: its roles are {held}, "
            f"{TARIFF_SIGNING} is required"
        )
    return f"{entry.identity} (keyring role {TARIFF_SIGNING})"


def sign_tariff(
    tariff: Mapping[str, Any],
    signer: Signer,
    *,
    keyring: Keyring | None = None,
    certificates: CertificateValidator | None = None,
    timestamp: datetime,
) -> dict[str, Any]:
    """Return a copy of ``tariff`` with one more signature in ``customData.signatures``.

    The tariff must be a valid OCPP 2.1 ``TariffType`` before and after; the signer must hold
    ``tariffSigning`` (see :func:`check_tariff_signer`), else :class:`SigningError`.

    >>> from ocpp_e2e.keys import KeySigner, Keyring, generate_private_key
    >>> key = generate_private_key(); ring = Keyring()
    >>> _ = ring.add(key.public_key(), name="prices", roles=["tariffSigning"])
    >>> from datetime import UTC, datetime
    >>> signed = sign_tariff({"tariffId": "t1", "currency": "EUR"}, KeySigner(key), keyring=ring,
    ...                      timestamp=datetime(2026, 3, 1, tzinfo=UTC))
    >>> len(signed["customData"]["signatures"])
    1
    """
    validate_tariff(tariff)
    check_tariff_signer(signer, keyring=keyring, certificates=certificates, now=timestamp)
    signed = sign_object(
        tariff, signer, context=TARIFF_CONTEXT, carrier="customData", timestamp=timestamp
    )
    validate_tariff(signed)
    return signed


class TariffVerdict(enum.StrEnum):
    """Whether a tariff may be used: signed, untouched, by a ``tariffSigning`` signer."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class TariffVerification:
    """The verdict on a tariff, the reason, its digest and the signers that vouch for it."""

    verdict: TariffVerdict
    reason: str
    tariff_id: str
    digest: str
    verification: Verification
    signers: tuple[SignatureResult, ...]

    @property
    def accepted(self) -> bool:
        """True for :attr:`TariffVerdict.ACCEPTED`."""
        return self.verdict is TariffVerdict.ACCEPTED

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as ``tariff verify --json`` prints it."""
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "tariffId": self.tariff_id,
            "digest": self.digest,
            "signers": [_signer_view(s) for s in self.signers],
            "signatures": [s.to_dict() for s in self.verification.signatures],
            "problems": list(self.verification.problems),
        }


def _signer_view(sig: SignatureResult) -> dict[str, Any]:
    return {
        "signer": sig.identity,
        "keyId": sig.key_id,
        "usages": sorted(sig.usages),
        "roles": sorted(sig.roles),
        "timestamp": sig.timestamp,
    }


def may_sign_tariffs(sig: SignatureResult) -> bool:
    """A valid, trusted signature whose key holds ``tariffSigning`` (usage or keyring role)."""
    return (
        sig.valid and sig.trusted and (TARIFF_SIGNING in sig.usages or TARIFF_SIGNING in sig.roles)
    )


def _judge(
    verification: Verification,
    *,
    what: str,
    qualifies: Callable[[SignatureResult], bool],
    requirement: str,
) -> tuple[bool, str, tuple[SignatureResult, ...]]:
    """The shared decision for signed structures: (ok, reason, qualifying signers).

    No signature, an object-level problem, or any ``invalid`` signature refuses; otherwise at
    least one signature must satisfy ``qualifies``; ``requirement`` says what that means.
    """
    if verification.problems:
        return False, f"the {what}'s signatures are malformed: {verification.problems[0]}", ()
    if not verification.signatures:
        return False, f"the {what} is not signed", ()
    for sig in verification.signatures:
        if sig.outcome is Outcome.INVALID:
            return False, f"signature {sig.index} ({sig.identity}) is invalid: {sig.reason}", ()
    good = tuple(s for s in verification.signatures if qualifies(s))
    if good:
        names = ", ".join(str(s.identity) for s in good)
        return True, f"signed by {names}", good
    reasons = []
    for sig in verification.signatures:
        if sig.valid:
            held = ", ".join(sorted(sig.usages | sig.roles)) or "no usages or roles"
            reasons.append(f"signature {sig.index} ({sig.identity}) is valid but holds {held}")
        else:
            reasons.append(f"signature {sig.index} is {sig.outcome.value}: {sig.reason}")
    return False, f"no signer {requirement}: " + "; ".join(reasons), ()


def verify_tariff(
    tariff: Mapping[str, Any] | bytes | str,
    verifier: Verifier,
    *,
    now: datetime,
    source: str = "tariff",
) -> TariffVerification:
    """Verify a signed tariff: schema, signatures (CONTEXT ``{"type": "Tariff"}``) and signer usage.

    Raises :class:`TariffError` (an input error, not a verdict) when the bytes are not I-JSON or
    the object is not an OCPP 2.1 ``TariffType``.
    """
    value = load_tariff(tariff, source=source)
    verification = verifier.verify_object(value, context=TARIFF_CONTEXT, now=now)
    ok, reason, signers = _judge(
        verification,
        what="tariff",
        qualifies=may_sign_tariffs,
        requirement=f"with usage or role {TARIFF_SIGNING}",
    )
    return TariffVerification(
        verdict=TariffVerdict.ACCEPTED if ok else TariffVerdict.REJECTED,
        reason=reason,
        tariff_id=value["tariffId"],
        digest=tariff_digest(value),
        verification=verification,
        signers=signers,
    )
