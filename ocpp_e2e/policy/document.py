"""The signature policy document of SPEC §7 as typed classes, loaded strictly.

Loading never half-succeeds: the JSON Schema shipped in the package (Draft 2020-12) and the
semantic checks below each report every problem with its JSON path (and line, for YAML), and only a
document without any problem becomes a :class:`Policy`. Unknown members are errors, so a typo cannot
silently weaken a rule.

>>> policy = Policy.from_dict({
...     "type": "SignaturePolicy", "id": "demo", "version": 1,
...     "rules": [{"id": "liveness", "effect": "permit",
...                "match": {"actions": ["Heartbeat"]}, "signers": "none"}]})
>>> policy.rules[0].id
'liveness'
"""

from __future__ import annotations

import base64
import binascii
import copy
import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
from cryptography import x509

from .._time import parse_duration, parse_rfc3339
from ..errors import KeyLoadError, PolicyError
from ..keys import Keyring, load_public_key_text
from ..model import CertificateValidator
from ._conditions import ORDERING, Check, Condition, json_type, parse_path
from ._regexp import IRegexpError, compile_iregexp
from ._yaml import load_yaml

if TYPE_CHECKING:
    from ..replay import ReplayCache
    from ..verify import Verifier

POLICY_TYPE = "SignaturePolicy"
#: CONTEXT of a signed policy (SPEC §3, §6).
POLICY_CONTEXT: Mapping[str, str] = {"type": POLICY_TYPE}
MAX_SIGNATURE_AGE_LIMIT = timedelta(hours=1)
DEFAULT_CLOCK_SKEW = timedelta(seconds=30)
_FRAME_KINDS = ("request", "send", "response", "error", "resultError")


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
class Problem:
    """One defect of a policy document: where (JSON path, line) and what is wrong."""

    path: str
    message: str
    line: int | None = None
    source: str | None = None

    def __str__(self) -> str:
        place = self.source or ""
        if self.line is not None:
            place += f":{self.line}" if place else f"line {self.line}"
        prefix = f"{place}: " if place else ""
        return f"{prefix}{self.path}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON view: ``{"path", "line", "message"}``."""
        return {"path": self.path, "line": self.line, "message": self.message}


# ----------------------------------------------------------------------------- typed classes


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


def identity_matches(pattern: str, identity: str) -> bool:
    """Identity patterns (SPEC §6, §7): exact, or a prefix when the only ``*`` ends the pattern.

    >>> identity_matches("dso-*", "dso-example"), identity_matches("dso-*", "xdso-1")
    (True, False)
    """
    if pattern.endswith("*"):
        return identity.startswith(pattern[:-1])
    return identity == pattern


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
    """``match`` of a rule: sets of actions, kinds and types; None means any."""

    actions: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    types: frozenset[str] | None = None
    _order: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Match:
        """Build from a validated ``match`` object."""
        order = tuple((k, tuple(data[k])) for k in ("actions", "kinds", "types") if k in data)

        def get(k: str) -> frozenset[str] | None:
            return frozenset(data[k]) if k in data else None

        return cls(get("actions"), get("kinds"), get("types"), order)

    def to_dict(self) -> dict[str, Any]:
        """The match as written in a policy."""
        return {k: list(v) for k, v in self._order}

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
            raise _policy_error(problems, source)
        return cls._build(data)

    @classmethod
    def _build(cls, data: Mapping[str, Any]) -> Policy:
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
            trust_anchors=tuple(_anchor_bytes(a) for a in doc.get("trustAnchors", ())),
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


_OTHER = "\x00other"  # stands for every action/type no rule names
#: A rule with the compiled checks of its ``where`` conditions.
_Plan = tuple[Rule, tuple[Check, ...]]
#: (forbid plans, permit plans) whose ``match`` holds for one context shape, in policy order.
_Candidates = tuple[tuple[_Plan, ...], tuple[_Plan, ...]]


class RuleIndex:
    """Precomputed lookups for fast decisions: the rules whose ``match`` holds per context shape
    (with their compiled ``where`` checks), and the roles the ``keys`` entries give each key id.

    The memo is keyed by (action, kind, type) where names no rule mentions collapse into one
    key, so frames with attacker-chosen action names cannot grow it.
    """

    def __init__(self, rules: tuple[Rule, ...], keys: tuple[KeyEntry, ...]) -> None:
        self.rules = rules
        self._actions = {a for r in rules if r.match.actions for a in r.match.actions}
        self._types = {t for r in rules if r.match.types for t in r.match.types}
        self._memo: dict[tuple[Any, Any, Any], _Candidates] = {}
        self.key_roles: dict[str, frozenset[str]] = {}
        from ..keys import key_id

        for entry in keys:
            _pub, der = load_public_key_text(entry.public_key)
            kid = key_id(der)
            self.key_roles[kid] = self.key_roles.get(kid, frozenset()) | frozenset(entry.roles)

    def candidates(self, context: Mapping[str, Any]) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
        """(forbid rules, permit rules) whose ``match`` holds for ``context``, in policy order."""
        found = self.plans(context)
        return tuple(r for r, _ in found[0]), tuple(r for r, _ in found[1])

    def plans(self, context: Mapping[str, Any]) -> _Candidates:
        """Like :meth:`candidates`, each rule paired with the ``check`` of its conditions."""
        action = context.get("action")
        kind = context.get("kind")
        type_ = context.get("type")
        key = (
            action if action in self._actions else _OTHER if action is not None else None,
            kind if kind in _FRAME_KINDS else _OTHER if kind is not None else None,
            type_ if type_ in self._types else _OTHER if type_ is not None else None,
        )
        found = self._memo.get(key)
        if found is None:
            probe = {"action": key[0], "kind": key[1], "type": key[2]}
            probe = {k: v for k, v in probe.items() if v is not None}
            matching = [
                (r, tuple(c.check for c in r.where))
                for r in self.rules
                if r.match.failure(probe) is None
            ]
            found = (
                tuple(p for p in matching if p[0].effect is RuleEffect.FORBID),
                tuple(p for p in matching if p[0].effect is RuleEffect.PERMIT),
            )
            self._memo[key] = found
        return found


def _keyring(entries: tuple[Mapping[str, Any], ...]) -> Keyring:
    return Keyring.from_entries(entries, source="policy")


def _anchor_bytes(text: str) -> bytes:
    """A trust anchor as given (PEM text or standard base64 DER) to bytes the PKI reads."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return text.encode("ascii")
    return base64.b64decode(text, validate=True)


def _policy_error(problems: Sequence[Problem], source: str | None) -> PolicyError:
    lines = tuple(str(p) for p in problems)
    head = f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the policy"
    err = PolicyError(
        f"{head}: " + "; ".join(lines[:3]) + ("; ..." if len(lines) > 3 else ""), source=source
    )
    err.problems = lines
    return err


# ----------------------------------------------------------------------------- checking


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of a policy document, shipped in ``ocpp_e2e/schemas``."""
    text = resources.files("ocpp_e2e").joinpath("schemas/signature-policy.schema.json").read_text()
    value: dict[str, Any] = json.loads(text)
    return value


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _json_path(parts: Sequence[str | int]) -> str:
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", p):
            out += f".{p}"
        else:
            out += "['" + p.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


def _schema_problems(data: Any) -> list[Problem]:
    out: list[Problem] = []
    for err in sorted(
        _validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]
    ):
        path = list(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            for extra in sorted(k for k in err.instance if k not in allowed):
                out.append(Problem(_json_path([*path, extra]), f"unknown member {extra!r}"))
            continue
        if err.validator == "required":
            missing = re.search(r"'([^']+)' is a required property", err.message)
            name = missing.group(1) if missing else err.message
            out.append(Problem(_json_path(path), f"required member {name!r} is missing"))
            continue
        if err.validator == "minimum" and path and path[-1] == "threshold":
            out.append(
                Problem(_json_path(path), f"threshold must be at least 1, not {err.instance}")
            )
            continue
        if err.validator == "minItems" and err.instance == []:
            out.append(Problem(_json_path(path), "must not be an empty list"))
            continue
        if err.validator == "if":  # reported by the then/else branch
            continue
        if err.validator == "pattern" and "description" in err.schema:
            out.append(
                Problem(_json_path(path), f"{err.instance!r} is not {err.schema['description']}")
            )
            continue
        out.append(Problem(_json_path(path), err.message))
    return out


def check_document(data: Any) -> list[Problem]:
    """Every problem of a policy document (schema and semantics); empty when it can be loaded."""
    problems = _schema_problems(data)
    if not isinstance(data, dict):
        return problems
    problems.extend(_Semantics(data).run())
    # Report each place once, in document order.
    seen: set[tuple[str, str]] = set()
    unique = []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            unique.append(p)
    return unique


class _Semantics:
    """Checks the schema cannot express; defensive about shapes the schema already refused."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def run(self) -> list[Problem]:
        doc = self.doc
        defined_roles = self.check_keys()
        roles = doc.get("roles")
        if isinstance(roles, dict):
            defined_roles |= {r for r in roles if isinstance(r, str)}
            for name, grant in roles.items():
                if isinstance(grant, dict):
                    for i, pat in enumerate(grant.get("identities") or ()):
                        if isinstance(pat, str) and "*" in pat[:-1]:
                            self.add(
                                f"$.roles.{name}.identities[{i}]",
                                "only a trailing '*' is a wildcard in identity patterns",
                            )
        self.check_times()
        self.check_anchors()
        mode = doc.get("mode", "enforce")
        if doc.get("default") == "permit" and mode != "audit":
            self.add("$.default", "default: permit is allowed only with mode: audit")
        any_signers = False
        rules = doc.get("rules")
        ids: dict[str, int] = {}
        if isinstance(rules, list):
            for i, rule in enumerate(rules):
                if not isinstance(rule, dict):
                    continue
                rid = rule.get("id")
                if isinstance(rid, str):
                    if rid in ids:
                        self.add(
                            f"$.rules[{i}].id", f"rule id {rid!r} is used by rules[{ids[rid]}] too"
                        )
                    ids.setdefault(rid, i)
                any_signers |= self.check_rule(f"$.rules[{i}]", rule, defined_roles)
        admins = doc.get("admins")
        if isinstance(admins, dict):
            self.check_signers("$.admins", admins, defined_roles)
        age = doc.get("maxSignatureAge")
        if any_signers and age is None:
            self.add("$", "maxSignatureAge is required when a rule has signers (e.g. PT5M)")
        for member in ("maxSignatureAge", "clockSkew"):
            value = doc.get(member)
            if isinstance(value, str):
                try:
                    delta = parse_duration(value)
                except ValueError:
                    continue  # the schema reports the form
                if delta > MAX_SIGNATURE_AGE_LIMIT:
                    self.add(f"$.{member}", f"{value} is longer than PT1H")
                if member == "maxSignatureAge" and delta <= timedelta(0):
                    self.add(f"$.{member}", "must be longer than zero")
        return self.problems

    def check_keys(self) -> set[str]:
        roles: set[str] = set()
        keys = self.doc.get("keys")
        if not isinstance(keys, list):
            return roles
        seen: dict[str, tuple[int, str | None]] = {}
        for i, entry in enumerate(keys):
            if not isinstance(entry, dict):
                continue
            for r in entry.get("roles") or ():
                if isinstance(r, str):
                    roles.add(r)
            text = entry.get("publicKey")
            if not isinstance(text, str):
                continue
            try:
                _pub, der = load_public_key_text(text)
            except KeyLoadError as exc:
                self.add(f"$.keys[{i}].publicKey", str(exc))
                continue
            from ..keys import key_id

            kid = key_id(der)
            name = entry.get("name")
            if kid in seen and seen[kid][1] != name:
                self.add(
                    f"$.keys[{i}]",
                    f"key {kid} is also keys[{seen[kid][0]}] under another name "
                    "(one key, one identity)",
                )
            seen.setdefault(kid, (i, name if isinstance(name, str) else None))
        return roles

    def check_times(self) -> None:
        parsed: dict[str, datetime] = {}
        for member in ("notBefore", "notAfter"):
            value = self.doc.get(member)
            if isinstance(value, str):
                try:
                    when = parse_rfc3339(value)
                except ValueError as exc:
                    self.add(f"$.{member}", str(exc))
                    continue
                parsed[member] = when.astimezone(UTC)
        if len(parsed) == 2 and parsed["notBefore"] >= parsed["notAfter"]:
            self.add("$.notAfter", "notAfter must be later than notBefore")

    def check_anchors(self) -> None:
        anchors = self.doc.get("trustAnchors")
        if not isinstance(anchors, list):
            return
        for i, text in enumerate(anchors):
            if not isinstance(text, str):
                continue
            try:
                data = _anchor_bytes(text)
                if data.startswith(b"-----BEGIN"):
                    certs = x509.load_pem_x509_certificates(data)
                    if len(certs) != 1:
                        self.add(
                            f"$.trustAnchors[{i}]",
                            f"holds {len(certs)} certificates; give one each",
                        )
                else:
                    x509.load_der_x509_certificate(data)
            except (ValueError, binascii.Error) as exc:
                self.add(f"$.trustAnchors[{i}]", f"not a PEM or base64 DER certificate ({exc})")

    def check_rule(self, at: str, rule: dict[str, Any], defined: set[str]) -> bool:
        effect = rule.get("effect")
        signers = rule.get("signers")
        has_signers = isinstance(signers, dict)
        if effect == "forbid" and "signers" in rule:
            self.add(
                f"{at}.signers",
                "forbid rules have no signers (a signer can always withhold a signature)",
            )
        if effect == "permit" and "signers" not in rule:
            self.add(
                at, "a permit rule must say who signs: signers: none, or roles/keys and threshold"
            )
        if isinstance(signers, dict):
            self.check_signers(f"{at}.signers", signers, defined)
        match = rule.get("match")
        if (
            isinstance(match, dict)
            and "types" in match
            and ("actions" in match or "kinds" in match)
        ):
            self.add(
                f"{at}.match",
                "a rule matches frames (actions, kinds) or structures (types), never both",
            )
        where = rule.get("where")
        if isinstance(where, list):
            for j, cond in enumerate(where):
                if isinstance(cond, dict):
                    self.check_condition(f"{at}.where[{j}]", cond)
        return has_signers and effect == "permit"

    def check_signers(self, at: str, req: dict[str, Any], defined: set[str]) -> None:
        roles = req.get("roles")
        keys = req.get("keys")
        if not roles and not keys:
            self.add(at, "name the roles or keys that may sign (an empty requirement is refused)")
        if isinstance(roles, list):
            for k, role in enumerate(roles):
                if isinstance(role, str) and role not in defined:
                    self.add(
                        f"{at}.roles[{k}]",
                        f"role {role!r} is not defined (no roles entry and no key holds it)",
                    )
        threshold = req.get("threshold", 1)
        if req.get("distinctRoles") is True and isinstance(threshold, int):
            n = len(roles) if isinstance(roles, list) else 0
            if n < threshold:
                self.add(
                    f"{at}.distinctRoles",
                    f"{threshold} signers with distinct roles need at least {threshold} roles, "
                    f"{n} listed",
                )

    def check_condition(self, at: str, cond: dict[str, Any]) -> None:
        path = cond.get("path")
        op = cond.get("op")
        if isinstance(path, str):
            try:
                parse_path(path)
            except ValueError as exc:
                self.add(f"{at}.path", str(exc))
        if "quantifier" in cond and isinstance(path, str) and "[*]" not in path:
            self.add(f"{at}.quantifier", "a quantifier needs a path with [*]")
        has_value = "value" in cond
        value = cond.get("value")
        if op in ("present", "absent"):
            if has_value:
                self.add(f"{at}.value", f"op {op} takes no value")
            return
        if not isinstance(op, str):
            return
        if not has_value:
            self.add(at, f"op {op} needs a value")
            return
        if op in ("in", "notIn"):
            if not isinstance(value, list) or not value:
                self.add(f"{at}.value", f"op {op} needs a non-empty list of values")
        elif op in ORDERING:
            if json_type(value) not in ("number", "string"):
                self.add(
                    f"{at}.value", f"op {op} compares numbers or strings, not a {json_type(value)}"
                )
        elif op == "matches":
            if not isinstance(value, str):
                self.add(f"{at}.value", "op matches needs an I-Regexp string")
            else:
                try:
                    compile_iregexp(value)
                except IRegexpError as exc:
                    self.add(f"{at}.value", f"not an I-Regexp (RFC 9485): {exc}")


# ----------------------------------------------------------------------------- loading


def lint_policy_text(
    text: str, *, fmt: str | None = None, source: str | None = None
) -> tuple[Any, list[Problem]]:
    """Parse policy text (JSON or YAML) and check it; returns the document and every problem.

    ``fmt`` is ``"json"`` or ``"yaml"``; by default text starting with ``{`` is JSON.
    """
    if fmt is None:
        fmt = "json" if text.lstrip().startswith("{") else "yaml"
    if fmt == "json":
        from ..canonical import loads
        from ..errors import IJSONError

        try:
            data = loads(text)
        except IJSONError as exc:
            return None, [Problem(exc.where or "$", exc.reason, None, source)]
        return data, [Problem(p.path, p.message, None, source) for p in check_document(data)]
    doc, yaml_problems = load_yaml(text)
    problems = [Problem(p.path, p.message, p.line, source) for p in yaml_problems]
    if doc is None:
        return None, problems
    # A refused YAML node (alias, bad number) stands in as null; do not report it twice.
    refused = tuple(p.path for p in yaml_problems)
    problems.extend(
        Problem(p.path, p.message, doc.line_of(p.path), source)
        for p in check_document(doc.value)
        if not p.path.startswith(refused) or not refused
    )
    problems.sort(key=lambda p: p.line or 0)
    return doc.value, problems


def loads_policy(text: str, *, fmt: str | None = None, source: str | None = None) -> Policy:
    """Load a policy from JSON or YAML text; raise :class:`PolicyError` listing every problem."""
    data, problems = lint_policy_text(text, fmt=fmt, source=source)
    if problems:
        raise _policy_error(problems, None)
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

    >>> load_policy("policies/station-csms-commands.yaml").id  # doctest: +SKIP
    'station-csms-commands'
    """
    text, fmt = read_policy_file(path)
    return loads_policy(text, fmt=fmt, source=str(path))
