"""The signature policy document of SPEC §7 as typed classes, and loading it strictly.

Loading never half-succeeds: :mod:`.lint` reports every problem of a document with its JSON path
(and line, for YAML), and only a document without any problem becomes a :class:`Policy`. The
decision lookups a loaded policy needs live in :mod:`.index`.

>>> policy = Policy.from_dict({
...     "type": "SignaturePolicy", "id": "demo", "version": 1,
...     "rules": [{"id": "liveness", "effect": "permit",
...                "match": {"actions": ["Heartbeat"]}, "signers": "none"}]})
>>> policy.rules[0].id
'liveness'
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._time import parse_duration, parse_rfc3339
from ..context import identity_matches
from ..errors import PolicyError
from ..keys import Keyring
from ..model import CertificateValidator
from ._conditions import Condition
from .lint import (
    DEFAULT_CLOCK_SKEW,
    POLICY_TYPE,
    anchor_bytes,
    check_document,
    lint_policy_text,
    policy_error,
)

if TYPE_CHECKING:
    from ..replay import ReplayCache
    from ..verify import Verifier
    from .index import RuleIndex

__all__ = [
    "POLICY_CONTEXT",
    "Effect",
    "KeyEntry",
    "Match",
    "Mode",
    "Policy",
    "RoleGrant",
    "Rule",
    "RuleEffect",
    "SignerRequirement",
    "identity_matches",
    "load_policy",
    "loads_policy",
    "read_policy_file",
]

#: CONTEXT of a signed policy (SPEC §3, §6).
POLICY_CONTEXT: Mapping[str, str] = {"type": POLICY_TYPE}


class Mode(enum.StrEnum):
    """``enforce`` blocks what the policy denies; ``audit`` decides and reports, never blocks."""

    ENFORCE = "enforce"
    AUDIT = "audit"


class RuleEffect(enum.StrEnum):
    """What an applicable rule does."""

    PERMIT = "permit"
    FORBID = "forbid"


class Effect(enum.StrEnum):
    """A decision's effect, and a policy's ``default``."""

    PERMIT = "permit"
    DENY = "deny"


@dataclass(frozen=True)
class KeyEntry:
    """A ``keys`` entry: a trusted public key, the identity it signs as and its roles."""

    public_key: str
    name: str | None
    roles: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyEntry:
        """Build from a validated ``keys`` entry."""
        return cls(data["publicKey"], data.get("name"), tuple(data.get("roles", ())))

    def to_dict(self) -> dict[str, Any]:
        """The entry as written in a policy."""
        out: dict[str, Any] = {"publicKey": self.public_key}
        if self.name is not None:
            out["name"] = self.name
        if self.roles:
            out["roles"] = list(self.roles)
        return out


@dataclass(frozen=True)
class RoleGrant:
    """A ``roles`` entry: a role held by certificates with ``usage`` (and identity, issuer)."""

    role: str
    usage: str
    identities: tuple[str, ...] | None = None
    issuers: tuple[str, ...] | None = None

    @classmethod
    def from_dict(cls, role: str, data: Mapping[str, Any]) -> RoleGrant:
        """Build from a validated ``roles`` member."""
        ids = data.get("identities")
        iss = data.get("issuers")
        return cls(role, data["usage"], tuple(ids) if ids else None, tuple(iss) if iss else None)

    def to_dict(self) -> dict[str, Any]:
        """The grant as written in a policy (without the role name, which is its key)."""
        out: dict[str, Any] = {"usage": self.usage}
        if self.identities is not None:
            out["identities"] = list(self.identities)
        if self.issuers is not None:
            out["issuers"] = list(self.issuers)
        return out

    def grants(self, identity: str | None, usages: frozenset[str], issuers: Sequence[str]) -> bool:
        """Whether a certificate signer with these properties holds this role."""
        if self.usage not in usages:
            return False
        if self.identities is not None and (
            identity is None or not any(identity_matches(p, identity) for p in self.identities)
        ):
            return False
        return self.issuers is None or any(i in self.issuers for i in issuers)


@dataclass(frozen=True)
class SignerRequirement:
    """``signers`` of a rule, or ``admins``: a threshold of counted signers by role or key id."""

    roles: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    threshold: int = 1
    distinct_roles: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignerRequirement:
        """Build from a validated ``signers``/``admins`` object."""
        return cls(
            tuple(data.get("roles", ())),
            tuple(data.get("keys", ())),
            data.get("threshold", 1),
            data.get("distinctRoles", False),
        )

    def to_dict(self) -> dict[str, Any]:
        """The requirement as written in a policy."""
        out: dict[str, Any] = {}
        if self.roles:
            out["roles"] = list(self.roles)
        if self.keys:
            out["keys"] = list(self.keys)
        out["threshold"] = self.threshold
        if self.distinct_roles:
            out["distinctRoles"] = True
        return out

    def describe(self) -> str:
        """The requirement in words, e.g. ``2 signers with distinct roles of csms-admin, ...``."""
        who = []
        if self.roles:
            who.append("role " + " or ".join(self.roles))
        if self.keys:
            who.append("key " + " or ".join(k[:10] + "…" for k in self.keys))
        noun = "signer" if self.threshold == 1 else "signers"
        text = f"{self.threshold} {noun} holding {' or '.join(who)}"
        return text + (", each for a different role" if self.distinct_roles else "")


@dataclass(frozen=True)
class Match:
    """``match`` of a rule: sets of actions, kinds and types; None means any.

    ``encrypted`` (proposed SPEC §9.8, docs/esp.md): True matches only frames that arrived
    encrypted (ESP), False only frames that arrived in plaintext; None either. The fact is the
    ``encrypted`` member that :func:`~ocpp_e2e.policy.evaluate` adds to the decision's context.
    """

    actions: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    types: frozenset[str] | None = None
    _order: tuple[tuple[str, tuple[str, ...]], ...] = ()
    encrypted: bool | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Match:
        """Build from a validated ``match`` object."""
        order = tuple((k, tuple(data[k])) for k in ("actions", "kinds", "types") if k in data)

        def get(k: str) -> frozenset[str] | None:
            return frozenset(data[k]) if k in data else None

        encrypted = data.get("encrypted")
        return cls(
            get("actions"),
            get("kinds"),
            get("types"),
            order,
            encrypted if isinstance(encrypted, bool) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The match as written in a policy."""
        out: dict[str, Any] = {k: list(v) for k, v in self._order}
        if self.encrypted is not None:
            out["encrypted"] = self.encrypted
        return out

    def failure(self, context: Mapping[str, Any]) -> str | None:
        """Why the rule does not match this context; None when it matches."""
        for member, allowed, label in (
            ("action", self.actions, "actions"),
            ("kind", self.kinds, "kinds"),
            ("type", self.types, "types"),
        ):
            if allowed is None:
                continue
            got = context.get(member)
            if got not in allowed:
                wanted = ", ".join(sorted(allowed))
                if got is None:
                    return f"the object has no {member} (the rule matches {label} {wanted})"
                return f"{member} is {got}, the rule matches {label} {wanted}"
        if self.encrypted is not None and (context.get("encrypted") is True) != self.encrypted:
            if self.encrypted:
                return "the frame arrived in plaintext, the rule matches encrypted frames"
            return "the frame arrived encrypted, the rule matches plaintext frames"
        return None


@dataclass(frozen=True)
class Rule:
    """A policy rule: effect, match, ``where`` conditions and (for permit rules) signers."""

    id: str
    effect: RuleEffect
    match: Match
    where: tuple[Condition, ...]
    signers: SignerRequirement | None  # None: ``signers: none`` (and always for forbid rules)
    description: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Build from a validated rule object."""
        effect = RuleEffect(data["effect"])
        forbid = effect is RuleEffect.FORBID
        signers = data.get("signers")
        return cls(
            id=data["id"],
            effect=effect,
            match=Match.from_dict(data.get("match", {})),
            where=tuple(Condition.compile(c, forbid=forbid) for c in data.get("where", ())),
            signers=None if signers in (None, "none") else SignerRequirement.from_dict(signers),
            description=data.get("description"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The rule as written in a policy."""
        out: dict[str, Any] = {"id": self.id}
        if self.description is not None:
            out["description"] = self.description
        out["effect"] = self.effect.value
        match = self.match.to_dict()
        if match:
            out["match"] = match
        if self.effect is RuleEffect.PERMIT:
            out["signers"] = "none" if self.signers is None else self.signers.to_dict()
        if self.where:
            out["where"] = [c.to_dict() for c in self.where]
        return out


@dataclass(frozen=True)
class Policy:
    """A loaded, checked signature policy (SPEC §7). Build with :func:`load_policy` or
    :meth:`Policy.from_dict`; the exact document stays available as :meth:`to_dict` (signatures
    included), which is what a policy signature covers."""

    id: str
    version: int
    mode: Mode
    default: Effect
    not_before: datetime | None
    not_after: datetime | None
    max_signature_age: timedelta | None
    clock_skew: timedelta
    trust_anchors: tuple[bytes, ...]
    keys: tuple[KeyEntry, ...]
    roles: Mapping[str, RoleGrant]
    rules: tuple[Rule, ...]
    admins: SignerRequirement | None
    description: str | None
    document: Mapping[str, Any]
    index: RuleIndex = field(repr=False, compare=False)

    # -- construction

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> Policy:
        """Check a JSON policy document and build it; raise :class:`PolicyError` listing every
        problem (unknown members, schema violations, semantic errors)."""
        problems = check_document(data)
        if problems:
            raise policy_error(problems, source)
        return cls._build(data)

    @classmethod
    def _build(cls, data: Mapping[str, Any]) -> Policy:
        from .index import RuleIndex  # the index is built from these classes

        doc = copy.deepcopy(dict(data))

        def when(member: str) -> datetime | None:
            return parse_rfc3339(doc[member]) if member in doc else None

        rules = tuple(Rule.from_dict(r) for r in doc["rules"])
        keys = tuple(KeyEntry.from_dict(k) for k in doc.get("keys", ()))
        return cls(
            id=doc["id"],
            version=doc["version"],
            mode=Mode(doc.get("mode", "enforce")),
            default=Effect(doc.get("default", "deny")),
            not_before=when("notBefore"),
            not_after=when("notAfter"),
            max_signature_age=(
                parse_duration(doc["maxSignatureAge"]) if "maxSignatureAge" in doc else None
            ),
            clock_skew=parse_duration(doc["clockSkew"])
            if "clockSkew" in doc
            else DEFAULT_CLOCK_SKEW,
            trust_anchors=tuple(anchor_bytes(a) for a in doc.get("trustAnchors", ())),
            keys=keys,
            roles={r: RoleGrant.from_dict(r, g) for r, g in doc.get("roles", {}).items()},
            rules=rules,
            admins=SignerRequirement.from_dict(doc["admins"]) if "admins" in doc else None,
            description=doc.get("description"),
            document=doc,
            index=RuleIndex(rules, keys),
        )

    def to_dict(self) -> dict[str, Any]:
        """The policy document exactly as loaded (a deep copy), including any ``signatures``."""
        return copy.deepcopy(dict(self.document))

    # -- views

    @property
    def signed(self) -> bool:
        """Whether the document carries signatures (only a signed policy can be an upgrade)."""
        return "signatures" in self.document

    def valid_at(self, now: datetime) -> str | None:
        """None when ``now`` is inside ``notBefore``/``notAfter``; else why not, in words."""
        if self.not_before is not None and now < self.not_before:
            return (
                f"policy {self.id} v{self.version} is not valid before {self.document['notBefore']}"
            )
        if self.not_after is not None and now > self.not_after:
            return f"policy {self.id} v{self.version} expired at {self.document['notAfter']}"
        return None

    # -- what verification needs

    def keyring(self) -> Keyring:
        """The keyring of ``keys`` (an entry without ``name`` is an identity of its own)."""
        return _keyring(tuple(k.to_dict() for k in self.keys))

    def certificate_validator(self) -> CertificateValidator | None:
        """A SPEC §5 chain validator over ``trustAnchors`` (None when the policy has none)."""
        if not self.trust_anchors:
            return None
        from ..pki.validate import ChainValidator  # the PKI layer sits beside us; load it lazily

        return ChainValidator(self.trust_anchors)

    def verifier(
        self,
        *,
        replay_cache: ReplayCache | None = None,
        identity: str | None = None,
        keyring: Keyring | None = None,
    ) -> Verifier:
        """A :class:`~ocpp_e2e.verify.Verifier` with this policy's keys, trust anchors,
        ``maxSignatureAge`` and ``clockSkew``.

        ``keyring`` replaces the policy's own keys (e.g. ``policy check --keyring``); ``identity``
        is this verifier's own node/CSMS id for ``destination`` checks.
        """
        from ..verify import Verifier

        return Verifier(
            keyring if keyring is not None else self.keyring(),
            certificates=self.certificate_validator(),
            max_signature_age=self.max_signature_age or timedelta(minutes=5),
            clock_skew=self.clock_skew,
            replay_cache=replay_cache,
            identity=identity,
        )


def _keyring(entries: tuple[Mapping[str, Any], ...]) -> Keyring:
    return Keyring.from_entries(entries, source="policy")


def loads_policy(text: str, *, fmt: str | None = None, source: str | None = None) -> Policy:
    """Load a policy from JSON or YAML text; raise :class:`PolicyError` listing every problem."""
    data, problems = lint_policy_text(text, fmt=fmt, source=source)
    if problems:
        raise policy_error(problems, None)
    return Policy._build(data)


def read_policy_file(path: Path | str) -> tuple[str, str]:
    """Read a policy file; returns its text and format (``json`` or ``yaml`` by extension)."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file ({exc})", source=str(path)) from exc
    fmt = "yaml" if path.suffix.lower() in (".yaml", ".yml") else "json"
    return text, fmt


def load_policy(path: Path | str) -> Policy:
    """Load a policy file (``.json``, ``.yaml``/``.yml``); raise :class:`PolicyError` listing
    every problem, each with the file, line (YAML) and JSON path.

    Example (from the repository root): ``load_policy("policies/station-csms-commands.yaml").id``
    is ``'station-csms-commands'``.
    """
    text, fmt = read_policy_file(path)
    return loads_policy(text, fmt=fmt, source=str(path))
