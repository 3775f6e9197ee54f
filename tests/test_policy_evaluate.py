"""Decisions (SPEC §7) on hand-built verifications: counting, roles, order of effects, modes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_policy_support import NOW, forbid, frame_ctx, make_policy, permit, sig, verification

from ocpp_e2e.model import Outcome
from ocpp_e2e.policy import Effect, Mode, Policy, evaluate

RESET = frame_ctx("Reset")
FIRMWARE = frame_ctx("UpdateFirmware")
OPS = dict(usages={"csmsOperator"})
SEC = dict(usages={"securityOfficer"})


def decide(
    policy: Policy, context: dict[str, Any], payload: Any, *sigs: Any, now: Any = NOW
) -> Any:
    return evaluate(policy, verification(context, payload, *sigs), now=now)


def reasons(decision: Any) -> dict[str, str | None]:
    return {r.rule: r.reason for r in decision.rules}


# -- default, permit, forbid


def test_no_applicable_rule_denies_by_default() -> None:
    d = decide(make_policy([permit("hb", ["Heartbeat"])]), RESET, {})
    assert (d.effect, d.rule, d.reason) == (
        Effect.DENY,
        None,
        "no rule permits Reset request; default deny",
    )
    assert not d.allowed


def test_default_permit_in_audit_mode() -> None:
    d = decide(make_policy([], mode="audit", default="permit"), RESET, {})
    assert (d.effect, d.reason) == (Effect.PERMIT, "no rule decides Reset request; default permit")


def test_unsigned_rule_permits() -> None:
    d = decide(make_policy([permit("hb", ["Heartbeat"])]), frame_ctx("Heartbeat"), {})
    assert (d.effect, d.rule) == (Effect.PERMIT, "hb")


def test_forbid_wins_over_permit() -> None:
    policy = make_policy(
        [
            permit("reset", ["Reset"]),
            forbid(
                "no-hard-reset",
                ["Reset"],
                where=[{"path": "type", "op": "eq", "value": "Immediate"}],
            ),
        ]
    )
    d = decide(policy, RESET, {"type": "Immediate"})
    assert (d.effect, d.rule, d.reason) == (
        Effect.DENY,
        "no-hard-reset",
        "forbidden by rule no-hard-reset",
    )


def test_forbid_that_does_not_match_leaves_the_permit() -> None:
    policy = make_policy(
        [
            permit("reset", ["Reset"]),
            forbid(
                "no-hard-reset",
                ["Reset"],
                where=[{"path": "type", "op": "eq", "value": "Immediate"}],
            ),
        ]
    )
    assert decide(policy, RESET, {"type": "OnIdle"}).rule == "reset"


def test_forbid_rule_ignores_signers() -> None:
    policy = make_policy(
        [forbid("never", ["Reset"]), permit("ops", ["Reset"], {"roles": ["csms-admin"]})]
    )
    assert decide(policy, RESET, {}, sig("ops-1", **OPS)).rule == "never"


def test_match_on_kinds() -> None:
    policy = make_policy(
        [{"id": "answers", "effect": "permit", "signers": "none", "match": {"kinds": ["response"]}}]
    )
    assert decide(policy, frame_ctx("Reset", kind="response"), {}).effect is Effect.PERMIT
    d = decide(policy, RESET, {})
    assert reasons(d)["answers"] == "kind is request, the rule matches kinds response"


def test_match_on_types_for_structures() -> None:
    policy = make_policy(
        [{"id": "t", "effect": "permit", "signers": "none", "match": {"types": ["Tariff"]}}]
    )
    assert decide(policy, {"type": "Tariff"}, {}).rule == "t"
    assert (
        reasons(decide(policy, RESET, {}))["t"]
        == "the object has no type (the rule matches types Tariff)"
    )


def test_rule_without_match_applies_to_everything() -> None:
    assert decide(make_policy([permit("all")]), frame_ctx("Anything"), {}).rule == "all"


def test_where_failure_is_explained() -> None:
    policy = make_policy(
        [permit("r", ["Reset"], where=[{"path": "type", "op": "eq", "value": "OnIdle"}])]
    )
    d = decide(policy, RESET, {"type": "Immediate"})
    assert reasons(d)["r"] == 'type is "Immediate", not "OnIdle" at type'


# -- signers


def test_keyring_role_satisfies_a_rule() -> None:
    policy = make_policy([permit("r", ["Reset"], {"roles": ["csms-admin"]})])
    assert decide(policy, RESET, {}, sig("ops-1", roles={"csms-admin"})).rule == "r"


def test_certificate_usage_grants_the_role() -> None:
    policy = make_policy([permit("r", ["Reset"], {"roles": ["csms-admin"]})])
    d = decide(policy, RESET, {}, sig("ops-1", **OPS))
    assert d.rule == "r"
    assert [s.to_dict() for s in d.signers] == [
        {"signer": "ops-1", "keyIds": [sig("ops-1").key_id], "roles": ["csms-admin"]}
    ]


def test_identity_pattern_limits_the_role() -> None:
    policy = make_policy([permit("g", ["SetChargingProfile"], {"roles": ["grid-operator"]})])
    ctx = frame_ctx("SetChargingProfile")
    assert decide(policy, ctx, {}, sig("dso-1", usages={"gridOperator"})).rule == "g"
    assert decide(policy, ctx, {}, sig("evil-1", usages={"gridOperator"})).rule is None


def test_issuer_limits_the_role() -> None:
    doc_roles = {"grid": {"usage": "gridOperator", "issuers": ["G" * 43]}}
    policy = make_policy(
        [permit("g", ["SetChargingProfile"], {"roles": ["grid"]})], roles=doc_roles
    )
    ctx = frame_ctx("SetChargingProfile")
    assert (
        decide(policy, ctx, {}, sig("dso-1", usages={"gridOperator"}, issuers=["G" * 43])).rule
        == "g"
    )
    assert (
        decide(policy, ctx, {}, sig("dso-1", usages={"gridOperator"}, issuers=["H" * 43])).rule
        is None
    )


def test_station_usage_counts_only_for_its_own_station() -> None:
    policy = make_policy([permit("tx", ["TransactionEvent"], {"roles": ["station"]})])
    own = frame_ctx("TransactionEvent", station="cs-0001")
    assert decide(policy, own, {}, sig("CS-0001", usages={"chargingStation"})).rule == "tx"
    assert decide(policy, own, {}, sig("cs-0002", usages={"chargingStation"})).rule is None


def test_untrusted_valid_signature_is_not_counted() -> None:
    policy = make_policy([permit("r", ["Reset"], {"roles": ["csms-admin"]})])
    d = decide(policy, RESET, {}, sig("ops-1", trusted=False, **OPS))
    assert d.signers == () and d.rule is None


def test_expired_signature_is_not_counted() -> None:
    policy = make_policy([permit("r", ["Reset"], {"roles": ["csms-admin"]})])
    d = decide(policy, RESET, {}, sig("ops-1", outcome=Outcome.EXPIRED, **OPS))
    assert d.effect is Effect.DENY
    assert reasons(d)["r"] == (
        "needs 1 signer holding role csms-admin; counted 0: none; not counted: #0 ops-1 is expired"
    )


def test_threshold_counts_two_signatures_of_one_key_once() -> None:
    policy = make_policy([permit("r", ["Reset"], {"roles": ["csms-admin"], "threshold": 2})])
    same = sig("ops-1", **OPS)
    d = decide(policy, RESET, {}, same, sig("ops-1", index=1, **OPS))
    assert d.rule is None and len(d.signers) == 1


def test_threshold_counts_two_keys_of_one_identity_once() -> None:
    policy = make_policy([permit("r", ["Reset"], {"roles": ["csms-admin"], "threshold": 2})])
    d = decide(
        policy,
        RESET,
        {},
        sig("ops-1", key_id="A" * 43, **OPS),
        sig("ops-1", key_id="B" * 43, **OPS),
    )
    assert d.rule is None
    assert [(s.identity, s.key_ids) for s in d.signers] == [("ops-1", ("A" * 43, "B" * 43))]


def test_threshold_met_by_two_identities() -> None:
    policy = make_policy([permit("r", ["Reset"], {"roles": ["csms-admin"], "threshold": 2})])
    assert decide(policy, RESET, {}, sig("ops-1", **OPS), sig("ops-2", **OPS)).rule == "r"


def test_signers_named_by_key_id() -> None:
    policy = make_policy([permit("r", ["Reset"], {"keys": ["K" * 43]})])
    assert decide(policy, RESET, {}, sig("anyone", key_id="K" * 43)).rule == "r"
    assert decide(policy, RESET, {}, sig("anyone", key_id="L" * 43)).rule is None


FOUR_EYES = {"roles": ["csms-admin", "security-officer"], "threshold": 2, "distinctRoles": True}


def test_distinct_roles_permits_two_people_with_two_roles() -> None:
    policy = make_policy([permit("fw", ["UpdateFirmware"], FOUR_EYES)])
    assert decide(policy, FIRMWARE, {}, sig("ops-1", **OPS), sig("sec-1", **SEC)).rule == "fw"


def test_distinct_roles_refuses_one_key_holding_both_roles() -> None:
    policy = make_policy([permit("fw", ["UpdateFirmware"], FOUR_EYES)])
    both = sig("boss", usages={"csmsOperator", "securityOfficer"})
    d = decide(policy, FIRMWARE, {}, both)
    assert d.rule is None
    assert reasons(d)["fw"] == (
        "needs 2 signers holding role csms-admin or security-officer, each for a different role; "
        "counted 1: boss [csms-admin, security-officer]"
    )


def test_distinct_roles_refuses_two_people_with_the_same_role() -> None:
    policy = make_policy([permit("fw", ["UpdateFirmware"], FOUR_EYES)])
    d = decide(policy, FIRMWARE, {}, sig("ops-1", **OPS), sig("ops-2", **OPS))
    assert d.rule is None
    assert "only 1 distinct role(s) can be filled (ops-1 as csms-admin)" in (reasons(d)["fw"] or "")


def test_distinct_roles_finds_the_matching_a_greedy_choice_misses() -> None:
    # boss holds both roles; a greedy pass giving boss csms-admin first would leave ops-1 without one.
    policy = make_policy([permit("fw", ["UpdateFirmware"], FOUR_EYES)])
    boss = sig("boss", usages={"csmsOperator", "securityOfficer"})
    assert decide(policy, FIRMWARE, {}, boss, sig("ops-1", **OPS)).rule == "fw"


# -- invalid signatures, validity, audit


def test_invalid_signature_from_a_known_key_denies_first() -> None:
    policy = make_policy([permit("any")])
    d = decide(
        policy, RESET, {}, sig("ops-1", **OPS), sig("ops-2", outcome=Outcome.INVALID, index=1)
    )
    assert (d.effect, d.rule) == (Effect.DENY, None)
    assert d.reason.startswith("signature #1 from known key ops-2 is invalid")


def test_invalid_signature_from_an_unknown_key_does_not_deny() -> None:
    policy = make_policy([permit("any")])
    d = decide(policy, RESET, {}, sig("stranger", outcome=Outcome.INVALID, trusted=False))
    assert d.rule == "any"


def test_policy_after_not_after_denies_everything() -> None:
    policy = make_policy([permit("any")], notAfter="2027-01-01T00:00:00Z")
    d = decide(policy, RESET, {})
    assert (d.effect, d.reason) == (
        Effect.DENY,
        "policy test-policy v1 expired at 2027-01-01T00:00:00Z; everything is denied",
    )


def test_policy_before_not_before_denies_everything() -> None:
    policy = make_policy([permit("any")], notBefore="2028-01-01T00:00:00Z")
    assert decide(policy, RESET, {}).reason.startswith("policy test-policy v1 is not valid before")


def test_policy_inside_its_validity_decides() -> None:
    policy = make_policy(
        [permit("any")], notBefore="2027-01-01T00:00:00Z", notAfter="2028-01-01T00:00:00Z"
    )
    assert decide(policy, RESET, {}, now=NOW + timedelta(days=1)).rule == "any"


def test_audit_mode_reports_would_deny_without_blocking() -> None:
    d = decide(make_policy([], mode="audit"), RESET, {})
    assert (d.effect, d.mode, d.allowed, d.would_deny) == (Effect.DENY, Mode.AUDIT, True, True)
    assert d.to_dict()["wouldDeny"] is True


def test_enforce_mode_blocks_a_deny() -> None:
    d = decide(make_policy([]), RESET, {})
    assert (d.allowed, d.would_deny) == (False, False)


def test_decision_to_dict_has_stable_fields() -> None:
    policy = make_policy([permit("r", ["Reset"], {"roles": ["csms-admin"]})])
    out = decide(policy, RESET, {}, sig("ops-1", **OPS)).to_dict()
    assert list(out) == [
        "effect",
        "mode",
        "allowed",
        "wouldDeny",
        "rule",
        "reason",
        "policy",
        "context",
        "signers",
        "signatures",
        "rules",
    ]
    assert out["rules"] == [{"rule": "r", "effect": "permit", "applies": True, "reason": None}]


def test_unknown_actions_share_one_memo_entry() -> None:
    policy = make_policy([permit("hb", ["Heartbeat"]), permit("all-answers", signers="none")])
    for n in range(50):
        decide(policy, frame_ctx(f"Vendor{n}"), {})
    assert len(policy.index._memo) == 1
