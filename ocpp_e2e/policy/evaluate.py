"""Decisions (SPEC §7): what a verified frame or structure may do under a policy.

>>> from datetime import UTC, datetime
>>> from ocpp_e2e.model import Verification
>>> policy = Policy.from_dict({"type": "SignaturePolicy", "id": "demo", "version": 1,
...     "rules": [{"id": "liveness", "effect": "permit",
...                "match": {"actions": ["Heartbeat"]}, "signers": "none"}]})
>>> v = Verification(context={"ocpp": "2.0.1", "station": "cs-1", "action": "Heartbeat",
...                           "kind": "request"}, payload={}, signatures=())
>>> evaluate(policy, v, now=datetime(2026, 6, 1, tzinfo=UTC)).rule
'liveness'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..context import same_identity
from ..model import Outcome, SignatureResult, Verification, signer_groups
from ._conditions import Memo
from .model import Effect, Mode, Policy, Rule, RuleEffect, SignerRequirement


@dataclass(frozen=True, init=False)
class CountedSigner:
    """One counted signer (SPEC §4): an identity, the keys it signed with and the roles it holds.

    ``aliases`` are the other identities the same signer appeared under (a key certified twice
    names two identities, yet it is one signer).
    """

    identity: str
    key_ids: tuple[str, ...]
    roles: frozenset[str]
    aliases: tuple[str, ...]

    def __init__(
        self,
        identity: str,
        key_ids: tuple[str, ...],
        roles: frozenset[str],
        aliases: tuple[str, ...] = (),
    ) -> None:
        # Built on every decision: writing the instance dict directly costs a fraction of the
        # frozen dataclass's object.__setattr__ per field.
        fields = self.__dict__
        fields["identity"] = identity
        fields["key_ids"] = key_ids
        fields["roles"] = roles
        fields["aliases"] = aliases

    def to_dict(self) -> dict[str, Any]:
        """JSON view: ``{"signer", "keyIds", "roles"}``, and ``"aliases"`` when there are any."""
        out: dict[str, Any] = {
            "signer": self.identity,
            "keyIds": list(self.key_ids),
            "roles": sorted(self.roles),
        }
        if self.aliases:
            out["aliases"] = list(self.aliases)
        return out

    def __str__(self) -> str:
        roles = ", ".join(sorted(self.roles)) or "no role"
        also = f" (also {', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.identity}{also} [{roles}]"


@dataclass(frozen=True)
class RuleOutcome:
    """Whether one rule applied, and if not, the first condition that failed (in words)."""

    rule: str
    effect: RuleEffect
    applies: bool
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON view: ``{"rule", "effect", "applies", "reason"}``."""
        return {
            "rule": self.rule,
            "effect": self.effect.value,
            "applies": self.applies,
            "reason": self.reason,
        }


@dataclass(frozen=True, init=False)
class Decision:
    """The verdict of a policy on one verified object.

    ``effect`` is what the policy decided; ``allowed`` is whether the object may pass, which in
    ``audit`` mode is always true (``would_deny`` then tells what enforcement would have done).
    ``rule`` names the deciding rule (None for a default, an invalid signature or an expired
    policy); ``rules`` explains every rule, computed on first use so deciding stays fast.
    """

    effect: Effect
    mode: Mode
    rule: str | None
    reason: str
    signers: tuple[CountedSigner, ...]
    policy_id: str
    policy_version: int
    context: Mapping[str, Any]
    _policy: Policy = field(repr=False, compare=False)
    _verification: Verification = field(repr=False, compare=False)
    _now: datetime = field(repr=False, compare=False)
    _cache: dict[str, tuple[RuleOutcome, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __init__(
        self,
        effect: Effect,
        mode: Mode,
        rule: str | None,
        reason: str,
        signers: tuple[CountedSigner, ...],
        policy_id: str,
        policy_version: int,
        context: Mapping[str, Any],
        _policy: Policy,
        _verification: Verification,
        _now: datetime,
        _cache: dict[str, tuple[RuleOutcome, ...]] | None = None,
    ) -> None:
        # One per decision: writing the instance dict directly costs a third of the frozen
        # dataclass's twelve object.__setattr__ calls (saves almost a microsecond per decision).
        fields = self.__dict__
        fields["effect"] = effect
        fields["mode"] = mode
        fields["rule"] = rule
        fields["reason"] = reason
        fields["signers"] = signers
        fields["policy_id"] = policy_id
        fields["policy_version"] = policy_version
        fields["context"] = context
        fields["_policy"] = _policy
        fields["_verification"] = _verification
        fields["_now"] = _now
        fields["_cache"] = {} if _cache is None else _cache

    @property
    def allowed(self) -> bool:
        """Whether the object may pass: permitted, or audit mode."""
        return self.effect is Effect.PERMIT or self.mode is Mode.AUDIT

    @property
    def would_deny(self) -> bool:
        """True in audit mode when enforcement would have denied."""
        return self.mode is Mode.AUDIT and self.effect is Effect.DENY

    @property
    def rules(self) -> tuple[RuleOutcome, ...]:
        """Every rule of the policy with whether it applied and, if not, why not."""
        if "rules" not in self._cache:
            self._cache["rules"] = explain_rules(self._policy, self._verification, self.signers)
        return self._cache["rules"]

    def to_dict(self) -> dict[str, Any]:
        """JSON view with stable field names."""
        return {
            "effect": self.effect.value,
            "mode": self.mode.value,
            "allowed": self.allowed,
            "wouldDeny": self.would_deny,
            "rule": self.rule,
            "reason": self.reason,
            "policy": {"id": self.policy_id, "version": self.policy_version},
            "context": dict(self.context),
            "signers": [s.to_dict() for s in self.signers],
            "signatures": [s.to_dict() for s in self._verification.signatures],
            "rules": [r.to_dict() for r in self.rules],
        }

    def summary(self) -> str:
        """One line: effect, deciding rule or reason, and counted signers."""
        head = self.effect.value.upper()
        if self.would_deny:
            head = "DENY (audit: would deny, not blocked)"
        signers = ", ".join(str(s) for s in self.signers) or "none"
        return f"{head} — {self.reason}; signers: {signers}"

    def explain(self) -> str:
        """The full reasoning, for people (``ocpp-e2e policy explain``)."""
        ctx = self.context
        if "action" in ctx:
            what = f"{ctx.get('action')} {ctx.get('kind')}"
            where = f" on station {ctx.get('station')} (OCPP {ctx.get('ocpp')})"
        else:
            what, where = f"{ctx.get('type')} structure", ""
        lines = [
            f"Policy {self.policy_id} v{self.policy_version} ({self.mode.value} mode)",
            f"Object: {what}{where}",
            f"Decision: {self.summary()}",
            "",
            "Signatures:",
        ]
        if not self._verification.signatures:
            lines.append("  (none)")
        for sig in self._verification.signatures:
            who = sig.identity or sig.key_id or "?"
            trust = "trusted" if sig.trusted else "untrusted"
            lines.append(f"  #{sig.index} {who}: {sig.outcome.value} ({trust}) — {sig.reason}")
        lines.append("Counted signers:")
        if not self.signers:
            lines.append("  (none)")
        lines.extend(f"  {s}" for s in self.signers)
        lines.append("Rules:")
        for r in self.rules:
            mark = "applies" if r.applies else "does not apply"
            decided = "  <= decided" if r.rule == self.rule else ""
            lines.append(f"  {r.rule} ({r.effect.value}) {mark}{decided}")
            if r.reason:
                lines.append(f"      because {r.reason}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- signers


def counted_signers(policy: Policy, verification: Verification) -> tuple[CountedSigner, ...]:
    """The signers SPEC §4/§7 count: trusted keys with a valid signature, one signer per group of
    :func:`~ocpp_e2e.model.signer_groups` (distinct keys *and* distinct identities: two keys of one
    identity count once, and one key counts once whatever identities its certificates name), each
    with the roles of its ``keys`` entry (and verifier keyring) and of its certificate usages.

    A ``chargingStation`` usage counts only when the signer's identity is the CONTEXT ``station``
    (ASCII case-insensitive, SPEC §5).
    """
    out = []
    for group in signer_groups(verification.signatures):
        if len(group) == 1:  # the common case, without the bookkeeping below
            sig = group[0]
            key_id = sig.key_id
            assert key_id is not None
            identity = sig.identity or key_id
            own = _roles(policy, sig, key_id, identity, verification.context)
            out.append(CountedSigner(identity, (key_id,), own, ()))
            continue
        identities: list[str] = []
        key_ids: list[str] = []
        roles: frozenset[str] = frozenset()
        for sig in group:
            key_id = sig.key_id
            assert key_id is not None  # signer_groups keeps only signatures with a key id
            identity = sig.identity or key_id
            if identity not in identities:
                identities.append(identity)
            if key_id not in key_ids:
                key_ids.append(key_id)
            roles = roles | _roles(policy, sig, key_id, identity, verification.context)
        out.append(CountedSigner(identities[0], tuple(key_ids), roles, tuple(identities[1:])))
    return tuple(out)


def _roles(
    policy: Policy, sig: SignatureResult, key_id: str, identity: str, context: Mapping[str, Any]
) -> frozenset[str]:
    """The roles one valid signature brings: its keyring roles, the policy ``keys`` entry's and
    those granted through ``roles`` by its certificate usages."""
    roles = frozenset(sig.roles)
    from_keys = policy.index.key_roles.get(key_id)
    if from_keys and not from_keys <= roles:
        roles = roles | from_keys
    grants = policy.roles
    if grants and sig.usages:
        usages = sig.usages
        if "chargingStation" in usages and not _is_station(identity, context):
            usages = usages - {"chargingStation"}
        # The same certificate signer comes again and again: its grants are remembered per
        # (identity, usages, issuers) in the policy's index.
        memo = policy.index.granted
        memo_key = (identity, usages, sig.issuers)
        granted = memo.get(memo_key)
        if granted is None:
            granted = frozenset(
                g.role for g in grants.values() if g.grants(identity, usages, sig.issuers)
            )
            if len(memo) >= 4096:
                memo.clear()
            memo[memo_key] = granted
        if granted:
            roles = roles | granted
    return roles


def _is_station(identity: str, context: Mapping[str, Any]) -> bool:
    """Whether ``identity`` is the CONTEXT ``station`` (ASCII case-insensitive, SPEC §5)."""
    station = context.get("station")
    return isinstance(station, str) and same_identity(identity, station)


def _counts(req: SignerRequirement, signer: CountedSigner) -> bool:
    """Whether ``signer`` holds one of the roles of ``req`` or signed with one of its keys."""
    return not signer.roles.isdisjoint(req.roles) or any(k in req.keys for k in signer.key_ids)


def _eligible(req: SignerRequirement, signers: Sequence[CountedSigner]) -> list[CountedSigner]:
    return [s for s in signers if _counts(req, s)]


def _max_matching(signers: Sequence[CountedSigner], roles: Sequence[str]) -> list[tuple[str, str]]:
    """A maximum one-signer-per-role assignment (Kuhn's augmenting paths) as (identity, role).

    Each counted signer fills at most one role, however many roles its keys and identities hold.
    """
    owner: dict[str, int] = {}  # role -> index of the signer holding it in the matching

    def augment(i: int, visited: set[str]) -> bool:
        for role in roles:
            if role in signers[i].roles and role not in visited:
                visited.add(role)
                if role not in owner or augment(owner[role], visited):
                    owner[role] = i
                    return True
        return False

    for i in range(len(signers)):
        augment(i, set())
    return sorted((signers[i].identity, role) for role, i in owner.items())


def satisfied(req: SignerRequirement, signers: Sequence[CountedSigner]) -> bool:
    """Whether counted signers meet a requirement: ``threshold`` distinct identities holding one
    of ``roles`` or named by key id; with ``distinctRoles`` a one-to-one assignment to roles."""
    if req.threshold == 1 and not req.distinct_roles:
        for s in signers:  # noqa: SIM110
            if _counts(req, s):
                return True
        return False
    eligible = _eligible(req, signers)
    if len(eligible) < req.threshold:
        return False
    if not req.distinct_roles:
        return True
    held = [s.roles.intersection(req.roles) for s in eligible]
    if all(len(h) == 1 for h in held):
        # Each signer can fill one role only: the largest assignment fills each role held.
        return len(set().union(*held)) >= req.threshold
    return len(_max_matching(eligible, req.roles)) >= req.threshold


def _signers_failure(
    req: SignerRequirement, signers: Sequence[CountedSigner], signatures: Sequence[SignatureResult]
) -> str | None:
    """Why the signers do not meet a requirement, naming who was counted and who was not."""
    if satisfied(req, signers):
        return None
    eligible = _eligible(req, signers)
    parts = [f"needs {req.describe()}"]
    if req.distinct_roles and len(eligible) >= req.threshold:
        pairs = _max_matching(eligible, req.roles)
        assigned = ", ".join(f"{who} as {role}" for who, role in pairs) or "nobody"
        parts.append(f"only {len(pairs)} distinct role(s) can be filled ({assigned})")
    else:
        got = ", ".join(str(s) for s in eligible) or "none"
        parts.append(f"counted {len(eligible)}: {got}")
    others = [s for s in signers if s not in eligible]
    if others:
        parts.append("holding no listed role: " + ", ".join(str(s) for s in others))
    ignored = [
        f"#{s.index} {s.identity or s.key_id or '?'} is {s.outcome.value}"
        + ("" if s.trusted or s.outcome is not Outcome.VALID else " but untrusted")
        for s in signatures
        if not (s.valid and s.trusted)
    ]
    if ignored:
        parts.append("not counted: " + ", ".join(ignored))
    return "; ".join(parts)


# ----------------------------------------------------------------------------- deciding


def _invalid_known(verification: Verification) -> SignatureResult | None:
    for sig in verification.signatures:
        if sig.outcome is Outcome.INVALID and sig.trusted:
            return sig
    return None


def evaluate(
    policy: Policy, verification: Verification, *, now: datetime, encrypted: bool = False
) -> Decision:
    """Decide what a verified object may do under ``policy`` at time ``now`` (SPEC §7).

    Order: outside the policy's validity everything is denied; an ``invalid`` signature from a
    known key denies; then any applicable forbid rule denies; then the first applicable permit
    rule permits; otherwise the policy's ``default``. ``encrypted`` says the frame arrived
    encrypted (ESP, docs/esp.md §9.8): the decision's context then holds ``"encrypted": true``,
    which rules with ``match.encrypted`` read.
    """
    if encrypted:
        verification = verification._replace(context={**verification.context, "encrypted": True})
    signers = counted_signers(policy, verification)
    outside = policy.valid_at(now)
    if outside is not None:
        reason = f"{outside}; everything is denied"
        return _decision(policy, verification, now, signers, Effect.DENY, None, reason)
    bad = _invalid_known(verification)
    if bad is not None:
        reason = (
            f"signature #{bad.index} from known key {bad.identity or bad.key_id} is invalid "
            f"({bad.reason}); an invalid signature from a known key denies whatever the rules say"
        )
        return _decision(policy, verification, now, signers, Effect.DENY, None, reason)
    payload = verification.payload
    forbids, permits = policy.index.plans(verification.context)
    memo: Memo = {}  # what [*] prefixes lead to in this payload, shared by the conditions
    for rule, checks in forbids:
        for check in checks:
            if not check(payload, memo):
                break
        else:  # every condition holds
            reason = f"forbidden by rule {rule.id}"
            return _decision(policy, verification, now, signers, Effect.DENY, rule.id, reason)
    lacked_signers = False
    for rule, checks in permits:
        for check in checks:
            if not check(payload, memo):
                break
        else:  # every condition holds
            if rule.signers is None or satisfied(rule.signers, signers):
                reason = f"permitted by rule {rule.id}"
                return _decision(policy, verification, now, signers, Effect.PERMIT, rule.id, reason)
            lacked_signers = True
    what = _describe(verification.context)
    if policy.default is Effect.PERMIT:
        reason = f"no rule decides {what}; default permit"
        return _decision(policy, verification, now, signers, Effect.PERMIT, None, reason)
    reason = f"no rule permits {what}; default deny"
    cause = verification_cause(verification) if lacked_signers else None
    if cause is not None:
        reason = f"{cause}; {reason}"
    return _decision(policy, verification, now, signers, Effect.DENY, None, reason)


def verification_cause(verification: Verification) -> str | None:
    """The verification outcome that kept signers from counting, in words, or None.

    A refusal whose permit rule lacked signers leads with it (``replayed``, ``malformed``,
    ``invalid``, ``unknown-key``, ``expired``, ``untrusted-certificate``, ...), so that operators
    debug the signature, not the policy. Names the first such signature and how many others.

    >>> from ocpp_e2e.model import SignatureResult
    >>> bad = SignatureResult(0, Outcome.REPLAYED, "already seen", identity="ops-1", trusted=True)
    >>> verification_cause(Verification({}, {}, (bad,)))
    'signature #0 of ops-1 is replayed: already seen'
    """
    bad = [s for s in verification.signatures if s.outcome is not Outcome.VALID]
    if not bad:
        return None
    first = bad[0]
    who = first.identity or first.key_id or "an unknown signer"
    text = f"signature #{first.index} of {who} is {first.outcome.value}: {first.reason}"
    if len(bad) > 1:
        text += f" (and {len(bad) - 1} more not valid)"
    return text


def refusal(policy: Policy, verification: Verification, *, now: datetime, reason: str) -> Decision:
    """A DENY that no rule made: for a frame that could not be judged (unreadable, over a size
    limit, a replay cache that did not answer). ``reason`` says why; in ``mode: audit`` the
    decision still lets the frame pass (``would_deny``), like every other.

    >>> from datetime import UTC, datetime
    >>> policy = Policy.from_dict({"type": "SignaturePolicy", "id": "demo", "version": 1, "rules": []})
    >>> v = Verification(context={"ocpp": "2.0.1", "station": "cs-1"}, payload=None, signatures=())
    >>> refusal(policy, v, now=datetime(2026, 6, 1, tzinfo=UTC), reason="frame is not I-JSON").summary()
    'DENY — frame is not I-JSON; signers: none'
    """
    return _decision(policy, verification, now, (), Effect.DENY, None, reason)


def _decision(
    policy: Policy,
    verification: Verification,
    now: datetime,
    signers: tuple[CountedSigner, ...],
    effect: Effect,
    rule: str | None,
    reason: str,
) -> Decision:
    return Decision(
        effect,
        policy.mode,
        rule,
        reason,
        signers,
        policy.id,
        policy.version,
        verification.context,
        policy,
        verification,
        now,
    )


def _describe(context: Mapping[str, Any]) -> str:
    if "action" in context:
        return f"{context.get('action')} {context.get('kind')}"
    return f"a {context.get('type')} structure"


def _rule_failure(
    rule: Rule, verification: Verification, signers: Sequence[CountedSigner]
) -> str | None:
    """The first condition of ``rule`` that fails for this object, in words; None if it applies."""
    reason = rule.match.failure(verification.context)
    if reason is not None:
        return reason
    for cond in rule.where:
        reason = cond.failure(verification.payload)
        if reason is not None:
            return reason
    if rule.signers is not None:
        return _signers_failure(rule.signers, signers, verification.signatures)
    return None


def explain_rules(
    policy: Policy, verification: Verification, signers: Sequence[CountedSigner]
) -> tuple[RuleOutcome, ...]:
    """Every rule with whether it applies and, if not, the first failing condition."""
    out = []
    for rule in policy.rules:
        reason = _rule_failure(rule, verification, signers)
        out.append(RuleOutcome(rule.id, rule.effect, reason is None, reason))
    return tuple(out)


__all__ = [
    "CountedSigner",
    "Decision",
    "RuleOutcome",
    "counted_signers",
    "evaluate",
    "explain_rules",
    "refusal",
    "satisfied",
    "verification_cause",
]
