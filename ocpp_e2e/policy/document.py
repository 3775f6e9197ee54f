"""Former home of the policy model, lint and index, kept so old imports keep working.

The document is now :mod:`ocpp_e2e.policy.model` (typed classes, loading),
:mod:`ocpp_e2e.policy.lint` (schema and semantic checks) and :mod:`ocpp_e2e.policy.index`
(decision lookups); import from :mod:`ocpp_e2e.policy`.
"""

from .index import RuleIndex
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
    identity_matches,
    load_policy,
    loads_policy,
    read_policy_file,
)

__all__ = [
    "POLICY_CONTEXT",
    "Effect",
    "KeyEntry",
    "Match",
    "Mode",
    "Policy",
    "Problem",
    "RoleGrant",
    "Rule",
    "RuleEffect",
    "RuleIndex",
    "SignerRequirement",
    "check_document",
    "identity_matches",
    "lint_policy_text",
    "load_policy",
    "loads_policy",
    "read_policy_file",
    "schema",
]
