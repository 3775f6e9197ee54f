"""Signature policies (SPEC §7): who may sign what, with which parameters.

Load a policy, build the verifier it configures, and decide::

    policy = load_policy("policies/station-csms-commands.yaml")
    verifier = policy.verifier(replay_cache=cache)
    checked = verifier.verify_frame(text, ocpp="2.0.1", station="cs-0001")
    decision = evaluate(policy, checked.verification, now=now)
    if not decision.allowed:
        ...  # refuse the frame; decision.explain() says why
"""

from .evaluate import (
    CountedSigner,
    Decision,
    RuleOutcome,
    counted_signers,
    evaluate,
    refusal,
)
from .lifecycle import (
    PolicyStore,
    UpgradeResult,
    UpgradeVerdict,
    check_upgrade,
    sign_policy,
)
from .lint import Problem, check_document, lint_policy_text, schema
from .model import (
    POLICY_CONTEXT,
    Effect,
    KeyEntry,
    Match,
    Mode,
    Policy,
    RoleGrant,
    Rule,
    RuleEffect,
    SignerRequirement,
    load_policy,
    loads_policy,
)

__all__ = [
    "POLICY_CONTEXT",
    "CountedSigner",
    "Decision",
    "Effect",
    "KeyEntry",
    "Match",
    "Mode",
    "Policy",
    "PolicyStore",
    "Problem",
    "RoleGrant",
    "Rule",
    "RuleEffect",
    "RuleOutcome",
    "SignerRequirement",
    "UpgradeResult",
    "UpgradeVerdict",
    "check_document",
    "check_upgrade",
    "counted_signers",
    "evaluate",
    "lint_policy_text",
    "load_policy",
    "loads_policy",
    "refusal",
    "schema",
    "sign_policy",
]
