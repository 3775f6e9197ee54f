"""End to end: sign with a certificate, verify (core verifier + ChainValidator), decide (policy).

The certificate's usages reach the policy, which maps them to roles (SPEC §7 ``roles``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from test_pki_support import KEYS_EXAMPLE, T0, YEAR, make_cert

from ocpp_e2e.keys import Keyring, KeySigner, key_id, load_private_key, spki_der
from ocpp_e2e.model import Outcome, SignatureResult
from ocpp_e2e.pki import (
    CertificateAuthority,
    ChainValidator,
    RevocationState,
    load_certificates_file,
    pem_chain_der,
)
from ocpp_e2e.policy import Effect, evaluate, loads_policy
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.verify import Verifier

ROOT_PEM = (KEYS_EXAMPLE / "root-ca.crt.pem").read_text()
GRID_CA_KID = key_id(
    spki_der(load_certificates_file(KEYS_EXAMPLE / "grid-ca.crt.pem")[0].public_key())  # type: ignore[arg-type]
)
STATION = "cs-0001"

PROFILE = json.dumps(
    [
        2,
        "m-1",
        "SetChargingProfile",
        {
            "evseId": 0,
            "chargingProfile": {
                "id": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "ChargingStationExternalConstraints",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": [
                    {
                        "id": 1,
                        "chargingRateUnit": "W",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 4200}],
                    }
                ],
            },
        },
    ]
)


def signer(name: str, *, chain: str | None = None) -> KeySigner:
    key = load_private_key(KEYS_EXAMPLE / f"{name}.key.pem")
    certs = pem_chain_der((KEYS_EXAMPLE / f"{chain or name}.chain.pem").read_bytes())
    return KeySigner(key, certificates=certs)


def policy_text(**roles: dict[str, Any]) -> str:
    return json.dumps(
        {
            "type": "SignaturePolicy",
            "id": "pki-e2e",
            "version": 1,
            "maxSignatureAge": "PT5M",
            "trustAnchors": [ROOT_PEM],
            "roles": roles or {"grid-operator": {"usage": "gridOperator", "identities": ["dso-*"]}},
            "rules": [
                {
                    "id": "grid-limit",
                    "effect": "permit",
                    "match": {"actions": ["SetChargingProfile"], "kinds": ["request"]},
                    "signers": {"roles": ["grid-operator"], "threshold": 1},
                }
            ],
        }
    )


def signed(s: KeySigner, at: datetime = T0) -> str:
    return sign_frame(PROFILE, s, ocpp="2.0.1", station=STATION, timestamp=at)


def verify_one(text: str, verifier: Verifier, now: datetime = T0) -> SignatureResult:
    checked = verifier.verify_frame(text, ocpp="2.0.1", station=STATION, now=now)
    (result,) = checked.verification.signatures
    return result


def demo_verifier(**kw: Any) -> Verifier:
    anchors = load_certificates_file(KEYS_EXAMPLE / "root-ca.crt.pem")
    return Verifier(Keyring(), certificates=ChainValidator(anchors, **kw))


def test_certificate_usage_maps_to_the_policy_role_and_permits() -> None:
    policy = loads_policy(policy_text())
    checked = policy.verifier().verify_frame(
        signed(signer("grid-operator")), ocpp="2.0.1", station=STATION, now=T0
    )
    (sig,) = checked.verification.signatures
    assert sig.outcome is Outcome.VALID, sig.reason
    assert (sig.identity, sig.usages) == ("dso-example", frozenset({"gridOperator"}))
    decision = evaluate(policy, checked.verification, now=T0)
    assert (decision.effect, decision.rule) == (Effect.PERMIT, "grid-limit")
    assert [(s.identity, s.roles) for s in decision.signers] == [
        ("dso-example", frozenset({"grid-operator"}))
    ]


def test_role_restricted_to_the_issuing_ca_key_id_permits() -> None:
    policy = loads_policy(
        policy_text(**{"grid-operator": {"usage": "gridOperator", "issuers": [GRID_CA_KID]}})
    )
    checked = policy.verifier().verify_frame(
        signed(signer("grid-operator")), ocpp="2.0.1", station=STATION, now=T0
    )
    assert evaluate(policy, checked.verification, now=T0).effect is Effect.PERMIT


def test_valid_certificate_with_another_usage_gets_no_role_and_is_denied() -> None:
    policy = loads_policy(policy_text())
    checked = policy.verifier().verify_frame(
        signed(signer("tariff-signer")), ocpp="2.0.1", station=STATION, now=T0
    )
    (sig,) = checked.verification.signatures
    assert sig.outcome is Outcome.VALID
    assert sig.usages == frozenset({"tariffSigning"})
    decision = evaluate(policy, checked.verification, now=T0)
    assert decision.effect is Effect.DENY
    assert decision.rule is None


def test_certificate_whose_key_does_not_match_key_id_is_refused() -> None:
    # the station-1 key signs, but the grid operator's certificate chain is attached
    result = verify_one(signed(signer("station-1", chain="grid-operator")), demo_verifier())
    assert result.outcome is Outcome.MALFORMED
    assert result.reason == "keyId does not match the key of the leaf certificate"


def test_revoked_certificate_is_untrusted_through_the_verifier() -> None:
    ca = CertificateAuthority.load(
        KEYS_EXAMPLE / "grid-ca.crt.pem", KEYS_EXAMPLE / "grid-ca.key.pem"
    )
    state = RevocationState.empty(ca)
    leaf = load_certificates_file(KEYS_EXAMPLE / "grid-operator.crt.pem")[0]
    state.revoke(ca, leaf, at=T0 - YEAR)
    verifier = demo_verifier(crls=[state.crl(ca, now=T0 - YEAR)])
    result = verify_one(signed(signer("grid-operator")), verifier)
    assert result.outcome is Outcome.UNTRUSTED_CERTIFICATE
    assert result.reason == (
        f"leaf 'dso-example (DEMO, never deploy)' (serial {leaf.serial_number:x}) is revoked by "
        "CA 'grid-ca' since 2029-06-01T12:00:00Z"
    )
    assert not result.trusted


def test_back_dated_signature_of_an_expired_certificate_is_untrusted() -> None:
    ca = CertificateAuthority.load(
        KEYS_EXAMPLE / "grid-ca.crt.pem", KEYS_EXAMPLE / "grid-ca.key.pem"
    )
    key = load_private_key(KEYS_EXAMPLE / "grid-operator.key.pem")
    short = ca.issue(
        key.public_key(), "dso-short", ["gridOperator"], valid_for=timedelta(days=1), not_before=T0
    )
    s = KeySigner(key, certificates=[c.public_bytes(Encoding.DER) for c in ca.chain_for(short)])
    now = T0 + timedelta(days=3)
    text = signed(s, at=now - timedelta(seconds=10))  # fresh, but the certificate has expired
    result = verify_one(text, demo_verifier(), now=now)
    assert result.outcome is Outcome.UNTRUSTED_CERTIFICATE
    assert result.reason.startswith("leaf 'dso-short' had expired at the signature time")


def test_chain_is_validated_even_when_the_keyring_holds_the_key() -> None:
    ring = Keyring.load(KEYS_EXAMPLE / "keyring.json")
    other = make_cert("other-root", ca=True)
    verifier = Verifier(ring, certificates=ChainValidator([other.cert]))
    result = verify_one(signed(signer("grid-operator")), verifier)
    assert result.outcome is Outcome.UNTRUSTED_CERTIFICATE
    assert result.reason.startswith("unknown root: the chain ends at 'grid-ca'")


@pytest.mark.parametrize("name", ["csms-operator", "station-2", "policy-admin-2", "meter-1"])
def test_every_key_type_of_the_demo_signs_and_verifies_with_its_certificate(name: str) -> None:
    result = verify_one(signed(signer(name)), demo_verifier())
    assert result.outcome is Outcome.VALID, result.reason
