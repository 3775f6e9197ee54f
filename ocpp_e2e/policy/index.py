"""Precomputed lookups over a loaded policy's rules and keys, so that a decision costs a dict
lookup rather than a walk over every rule (SPEC §7 evaluation order is kept: policy order)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..keys import key_id, load_public_key_text
from ._conditions import Check
from .model import KeyEntry, Rule, RuleEffect

__all__ = ["RuleIndex"]

_FRAME_KINDS = ("request", "send", "response", "error", "resultError")
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
        # Only policies that match on ``encrypted`` need it in the memo key.
        self._encrypted = any(r.match.encrypted is not None for r in rules)
        self._memo: dict[tuple[Any, Any, Any, bool], _Candidates] = {}
        self.key_roles: dict[str, frozenset[str]] = {}
        #: Roles granted through ``roles`` to a certificate signer, by (identity, usages,
        #: issuers); filled by decisions (at most 4096 entries).
        self.granted: dict[tuple[str, frozenset[str], tuple[str, ...]], frozenset[str]] = {}
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
            self._encrypted and context.get("encrypted") is True,
        )
        found = self._memo.get(key)
        if found is None:
            probe = {"action": key[0], "kind": key[1], "type": key[2], "encrypted": key[3] or None}
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
