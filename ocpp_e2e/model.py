"""Plain data models shared by signing, verification, PKI and policy (no behaviour beyond views).

Names follow SPEC.md: ``keyId``, ``context``, ``chained``, outcomes of §4. The results built once per
verified message are immutable named tuples: as read-only as frozen dataclasses and several times
cheaper to build, which matters on the verification hot path.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

__all__ = [
    "CertificateValidator",
    "ChainResult",
    "Direction",
    "KeyInfo",
    "Kind",
    "Outcome",
    "SignatureResult",
    "Verification",
    "signer_groups",
]


class Outcome(enum.StrEnum):
    """The SPEC §4 outcome of one signature."""

    VALID = "valid"
    INVALID = "invalid"
    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported-algorithm"
    UNKNOWN_KEY = "unknown-key"
    UNTRUSTED_CERTIFICATE = "untrusted-certificate"
    EXPIRED = "expired"
    WRONG_DESTINATION = "wrong-destination"
    REPLAYED = "replayed"


class Kind(enum.StrEnum):
    """The ``kind`` member of a frame CONTEXT (SPEC §3)."""

    REQUEST = "request"
    SEND = "send"
    RESPONSE = "response"
    ERROR = "error"
    RESULT_ERROR = "resultError"


class Direction(enum.StrEnum):
    """Which way a frame travels on a station's connection (SPEC §8 ``direction``)."""

    TO_CSMS = "toCSMS"
    TO_STATION = "toStation"

    @property
    def reverse(self) -> Direction:
        return Direction.TO_STATION if self is Direction.TO_CSMS else Direction.TO_CSMS


@dataclass(frozen=True)
class ChainResult:
    """What certificate validation (SPEC §5) tells the verifier about one ``certificates`` chain.

    ``ok`` False means ``untrusted-certificate`` with ``reason``. On success ``leaf_spki`` is the
    leaf's SubjectPublicKeyInfo DER, ``identity`` the SAN URI identity, ``usages`` the effective
    domain usage names (intersection along the chain) and ``issuers`` the key ids of the CA
    certificates of the chain (nearest first, trust anchor last).
    """

    ok: bool
    reason: str
    leaf_spki: bytes | None = None
    identity: str | None = None
    usages: frozenset[str] = frozenset()
    issuers: tuple[str, ...] = ()
    leaf_not_after: datetime | None = None


class CertificateValidator(Protocol):
    """Validates a ``certificates`` chain (leaf first, DER) at the signature time and at now."""

    def validate(self, chain: Sequence[bytes], *, at: datetime, now: datetime) -> ChainResult:
        """Return the chain's verdict; never raise for bad input."""
        ...


class SignatureResult(NamedTuple):
    """The verdict on one signature object of a signed object.

    ``identity`` names the signer for counting and reports: the keyring entry's ``name`` (or its
    key id when it has none) or the certificate identity; never the signature's own ``name``.
    ``trusted`` is true when the key came from the keyring or a validated chain.
    """

    index: int  # type: ignore[assignment]  # the position in the array; shadows tuple.index
    outcome: Outcome
    reason: str
    key_id: str | None = None
    algorithm: str | None = None
    timestamp: str | None = None
    identity: str | None = None
    trusted: bool = False
    roles: frozenset[str] = frozenset()
    usages: frozenset[str] = frozenset()
    issuers: tuple[str, ...] = ()
    chained: bool = False
    destination: str | None = None
    claimed_name: str | None = None
    input_digest: str | None = None

    @property
    def valid(self) -> bool:
        return self.outcome is Outcome.VALID

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with stable field names."""
        out: dict[str, Any] = {
            "index": self.index,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "keyId": self.key_id,
            "algorithm": self.algorithm,
            "timestamp": self.timestamp,
            "signer": self.identity,
            "trusted": self.trusted,
            "chained": self.chained,
        }
        if self.roles:
            out["roles"] = sorted(self.roles)
        if self.usages:
            out["usages"] = sorted(self.usages)
        if self.destination is not None:
            out["destination"] = self.destination
        if self.claimed_name is not None:
            out["claimedName"] = self.claimed_name
        return out


def signer_groups(
    signatures: Sequence[SignatureResult],
) -> list[tuple[SignatureResult, ...]]:
    """The counted signers of SPEC §4: valid signatures of trusted keys, grouped so that one
    group is one signer. Two signatures are one signer when they share a key (whatever identities
    its certificates name: a key certified twice is still one signer) or an identity (two keys of
    one identity count once), and so on transitively. Groups keep the order of their first
    signature; each group keeps its signatures in order.

    >>> a = SignatureResult(0, Outcome.VALID, "ok", key_id="k1", identity="alice", trusted=True)
    >>> b = SignatureResult(1, Outcome.VALID, "ok", key_id="k1", identity="bob", trusted=True)
    >>> len(signer_groups([a, b]))
    1
    """
    counted = [
        s for s in signatures if s.outcome is Outcome.VALID and s.trusted and s.key_id is not None
    ]
    if len(counted) < 2 or (
        len({s.key_id for s in counted}) == len(counted)
        and len({s.identity or s.key_id for s in counted}) == len(counted)
    ):
        return [(s,) for s in counted]  # no shared key or identity: one signer each
    # Union-find over the signatures: link each to the first one that shares its key or identity.
    parent = list(range(len(counted)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i, sig in enumerate(counted):
        assert sig.key_id is not None
        for label in (("key", sig.key_id), ("identity", sig.identity or sig.key_id)):
            j = first.setdefault(label, i)
            if j != i:
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)  # the earliest signature stays the root
    groups: dict[int, list[SignatureResult]] = {}
    for i, sig in enumerate(counted):
        groups.setdefault(root(i), []).append(sig)
    return [tuple(groups[r]) for r in sorted(groups)]


class Verification(NamedTuple):
    """The result of verifying every signature of one signed object.

    ``payload`` is the signing payload of SPEC §3 (the object without its signatures), which is
    also what policy ``where`` conditions read. ``problems`` lists object-level defects (both
    carriers, an empty array, too many signatures); when it is non-empty every signature is
    ``malformed``.
    """

    context: Mapping[str, Any]
    payload: Any
    signatures: tuple[SignatureResult, ...]
    problems: tuple[str, ...] = ()
    carrier: str | None = None

    @property
    def signed(self) -> bool:
        return bool(self.signatures)

    @property
    def valid_signers(self) -> tuple[SignatureResult, ...]:
        """Valid signatures of trusted keys, one per counted signer (SPEC §4; the first
        signature of each :func:`signer_groups` group)."""
        return tuple(group[0] for group in signer_groups(self.signatures))

    @property
    def all_valid(self) -> bool:
        """True when there is at least one signature and every one is ``valid``."""
        return bool(self.signatures) and all(s.valid for s in self.signatures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "context": dict(self.context),
            "carrier": self.carrier,
            "problems": list(self.problems),
            "signatures": [s.to_dict() for s in self.signatures],
            "signers": [s.identity for s in self.valid_signers],
        }


@dataclass(frozen=True)
class KeyInfo:
    """A keyring entry: a trusted public key with the identity and roles it holds."""

    key_id: str
    spki_der: bytes
    name: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def identity(self) -> str:
        """The identity for counting (SPEC §4): the name, or the key id for a nameless entry."""
        return self.name if self.name is not None else self.key_id
