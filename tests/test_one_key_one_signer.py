"""SPEC §4 counting: one key is one signer, whatever identities and usages its certificates name.

A private key certified twice (two identities, two usages) signs twice; it must never satisfy a
threshold of 2 or ``distinctRoles`` alone — not in decisions, not in policy upgrades by admin
quorum, not in explanations, not in audit reports.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from test_policy_support import KEYS_EXAMPLE, NOW, POLICIES, make_policy, permit, sig, verification

from ocpp_e2e.audit.run import PolicyDecide
from ocpp_e2e.keys import KeySigner, generate_private_key
from ocpp_e2e.model import Verification
from ocpp_e2e.pki import CertificateAuthority, ChainValidator
from ocpp_e2e.policy import (
    Effect,
    Policy,
    UpgradeVerdict,
    check_upgrade,
    counted_signers,
    evaluate,
    load_policy,
    sign_policy,
)
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.verify import Verifier

FOUR_EYES = {"roles": ["csms-admin", "security-officer"], "threshold": 2, "distinctRoles": True}
TWO_ADMINS = {"roles": ["csms-admin", "security-officer"], "threshold": 2}
CALL = [2, "u1", "UpdateFirmware", {"requestId": 1, "firmware": {"location": "https://x/fw"}}]


@pytest.fixture(scope="module")
def ops_ca() -> CertificateAuthority:
    return CertificateAuthority.load(
        KEYS_EXAMPLE / "operations-ca.crt.pem", KEYS_EXAMPLE / "operations-ca.key.pem"
    )


def certified(ca: CertificateAuthority, key: Any, identity: str, usage: str) -> KeySigner:
    """``key`` with a fresh certificate naming ``identity`` and ``usage``."""
    from cryptography.hazmat.primitives import serialization

    cert = ca.issue(
        key.public_key(),
        identity,
        [usage],
        valid_for=timedelta(days=400),
        not_before=NOW - timedelta(days=30),
    )
    chain = [c.public_bytes(serialization.Encoding.DER) for c in ca.chain_for(cert)]
    return KeySigner(key, certificates=chain)


def verified(*signers: KeySigner) -> Verification:
    text = sign_frame(CALL, list(signers), ocpp="2.0.1", station="cs-0001", timestamp=NOW)
    validator = ChainValidator.from_files([KEYS_EXAMPLE / "root-ca.crt.pem"])
    result = Verifier(certificates=validator).verify_frame(
        text, ocpp="2.0.1", station="cs-0001", now=NOW
    )
    assert [s.outcome.value for s in result.verification.signatures] == ["valid"] * len(signers)
    return result.verification


def firmware_policy(signers: dict[str, Any]) -> Policy:
    return make_policy([permit("firmware", ["UpdateFirmware"], signers=signers)])


@pytest.fixture(scope="module")
def twice_certified(ops_ca: CertificateAuthority) -> Verification:
    """One key certified as alice (csmsOperator) and as bob (securityOfficer), signing twice."""
    key = generate_private_key("ES256")
    return verified(
        certified(ops_ca, key, "alice", "csmsOperator"),
        certified(ops_ca, key, "bob", "securityOfficer"),
    )


@pytest.fixture(scope="module")
def two_people(ops_ca: CertificateAuthority) -> Verification:
    """The control: two keys, alice (csmsOperator) and bob (securityOfficer)."""
    return verified(
        certified(ops_ca, generate_private_key("ES256"), "alice", "csmsOperator"),
        certified(ops_ca, generate_private_key("Ed25519"), "bob", "securityOfficer"),
    )


def test_a_key_certified_twice_does_not_pass_four_eyes_alone(twice_certified: Verification) -> None:
    d = evaluate(firmware_policy(FOUR_EYES), twice_certified, now=NOW)
    assert (d.effect, d.rule) == (Effect.DENY, None)
    assert len(d.signers) == 1
    assert {r.rule: r.reason for r in d.rules}["firmware"] == (
        "needs 2 signers holding role csms-admin or security-officer, each for a different role; "
        "counted 1: alice (also bob) [csms-admin, security-officer]"
    )


def test_a_key_certified_twice_does_not_pass_threshold_two_alone(
    twice_certified: Verification,
) -> None:
    d = evaluate(firmware_policy(TWO_ADMINS), twice_certified, now=NOW)
    assert (d.effect, d.rule) == (Effect.DENY, None)


def test_two_keys_of_two_people_pass_four_eyes(two_people: Verification) -> None:
    d = evaluate(firmware_policy(FOUR_EYES), two_people, now=NOW)
    assert (d.effect, d.rule) == (Effect.PERMIT, "firmware")
    assert [s.identity for s in d.signers] == ["alice", "bob"]


def test_the_explanation_names_one_signer_for_a_key_certified_twice(
    twice_certified: Verification,
) -> None:
    d = evaluate(firmware_policy(FOUR_EYES), twice_certified, now=NOW)
    assert [s.to_dict()["aliases"] for s in d.signers] == [["bob"]]
    assert "Counted signers:\n  alice (also bob) [csms-admin, security-officer]\nRules:" in (
        d.explain()
    )


def test_the_audit_report_names_one_signer_for_a_key_certified_twice(
    twice_certified: Verification,
) -> None:
    assert [s.identity for s in twice_certified.valid_signers] == ["alice"]
    assert twice_certified.to_dict()["signers"] == ["alice"]
    audit = PolicyDecide(firmware_policy(FOUR_EYES))(twice_certified, NOW)
    assert (audit.permitted, audit.signers) == (False, ("alice",))


def test_signers_linked_through_a_shared_identity_and_a_shared_key_count_once() -> None:
    # k1 as alice, k2 as alice, k2 as bob: one person (alice's second key is also bob's).
    v = verification(
        {"type": "SignaturePolicy"},
        {},
        sig("alice", key_id="k1".ljust(43, "x"), usages={"csmsOperator"}),
        sig("alice", key_id="k2".ljust(43, "x"), usages={"csmsOperator"}, index=1),
        sig("bob", key_id="k2".ljust(43, "x"), usages={"securityOfficer"}, index=2),
    )
    signers = counted_signers(firmware_policy(FOUR_EYES), v)
    assert [(s.identity, len(s.key_ids), s.aliases) for s in signers] == [("alice", 2, ("bob",))]


# -- policy upgrades by admin quorum


def test_a_key_certified_twice_cannot_upgrade_a_policy_alone(ops_ca: CertificateAuthority) -> None:
    installed = load_policy(POLICIES / "policy-admin-quorum.yaml")
    key = generate_private_key("ES256")
    doc = installed.to_dict()
    doc["version"] = installed.version + 1
    signed = sign_policy(
        doc,
        [
            certified(ops_ca, key, "admin-a", "policyAdmin"),
            certified(ops_ca, key, "admin-b", "policyAdmin"),
        ],
        timestamp=NOW,
    )
    result = check_upgrade(installed, signed, now=NOW)
    assert result.verdict is UpgradeVerdict.REFUSED
    assert result.reason == (
        "the signatures do not satisfy the installed admins: needs 2 signers holding "
        "role policy-admin; counted 1: admin-a (also admin-b) [policy-admin]"
    )


def test_two_admin_keys_upgrade_a_policy(ops_ca: CertificateAuthority) -> None:
    installed = load_policy(POLICIES / "policy-admin-quorum.yaml")
    doc = installed.to_dict()
    doc["version"] = installed.version + 1
    admins = [
        certified(ops_ca, generate_private_key("ES256"), name, "policyAdmin")
        for name in ("admin-a", "admin-b")
    ]
    result = check_upgrade(installed, sign_policy(doc, admins, timestamp=NOW), now=NOW)
    assert result.verdict is UpgradeVerdict.ACCEPTED, result.reason
