"""Shared builders for the policy tests: policies, hand-built verifications, demo signers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocpp_e2e.keys import KeySigner, load_private_key
from ocpp_e2e.model import Outcome, SignatureResult, Verification
from ocpp_e2e.pki.validate import pem_chain_der
from ocpp_e2e.policy import Policy

ROOT = Path(__file__).resolve().parent.parent
KEYS_EXAMPLE = ROOT / "keys-example"
POLICIES = ROOT / "policies"
DATA = Path(__file__).resolve().parent / "data" / "policy"

#: A fixed "now" inside the example policies' validity (2026..2031) and the demo certificates'.
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def policy_doc(rules: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A minimal valid policy document around ``rules``; ``top`` adds or replaces members."""
    doc: dict[str, Any] = {
        "type": "SignaturePolicy",
        "id": "test-policy",
        "version": 1,
        "maxSignatureAge": "PT5M",
        "roles": {
            "csms-admin": {"usage": "csmsOperator"},
            "security-officer": {"usage": "securityOfficer"},
            "grid-operator": {"usage": "gridOperator", "identities": ["dso-*"]},
            "station": {"usage": "chargingStation"},
        },
        "rules": rules,
    }
    doc.update(top)
    return {k: v for k, v in doc.items() if v is not None}


def make_policy(rules: list[dict[str, Any]], **top: Any) -> Policy:
    return Policy.from_dict(policy_doc(rules, **top))


def permit(
    rule_id: str, actions: list[str] | None = None, signers: Any = "none", **extra: Any
) -> dict[str, Any]:
    rule: dict[str, Any] = {"id": rule_id, "effect": "permit", "signers": signers}
    if actions is not None:
        rule["match"] = {"actions": actions}
    rule.update(extra)
    return rule


def forbid(rule_id: str, actions: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"id": rule_id, "effect": "forbid"}
    if actions is not None:
        rule["match"] = {"actions": actions}
    rule.update(extra)
    return rule


def frame_ctx(
    action: str, kind: str = "request", station: str = "cs-0001", ocpp: str = "2.0.1"
) -> dict[str, Any]:
    return {"ocpp": ocpp, "station": station, "action": action, "kind": kind}


_counter = iter(range(10**6))


def sig(
    identity: str | None,
    *,
    outcome: Outcome = Outcome.VALID,
    key_id: str | None = None,
    trusted: bool = True,
    roles: Iterable[str] = (),
    usages: Iterable[str] = (),
    issuers: Iterable[str] = (),
    index: int = 0,
) -> SignatureResult:
    """A hand-built signature verdict; the key id defaults to one derived from the identity."""
    kid = key_id if key_id is not None else f"key-of-{identity}".ljust(43, "x")[:43]
    return SignatureResult(
        index=index,
        outcome=outcome,
        reason="as built by the test",
        key_id=kid,
        algorithm="Ed25519",
        identity=identity,
        trusted=trusted,
        roles=frozenset(roles),
        usages=frozenset(usages),
        issuers=tuple(issuers),
    )


def verification(context: dict[str, Any], payload: Any, *sigs: SignatureResult) -> Verification:
    return Verification(context=context, payload=payload, signatures=tuple(sigs))


def example_signer(name: str) -> KeySigner:
    """A demo signer from keys-example/ with its certificate chain attached."""
    key = load_private_key(KEYS_EXAMPLE / f"{name}.key.pem")
    chain = pem_chain_der((KEYS_EXAMPLE / f"{name}.chain.pem").read_bytes())
    return KeySigner(key, certificates=chain)
