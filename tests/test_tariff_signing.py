"""Signed tariffs and cost receipts (SPEC §6): who may sign, what verification reports."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ocpp_e2e.context import structure_context
from ocpp_e2e.errors import IJSONError, SigningError, TariffError
from ocpp_e2e.keys import Keyring, KeySigner, generate_private_key, load_private_key
from ocpp_e2e.pki import ChainValidator, create_root, pem_chain_der
from ocpp_e2e.sign import sign_object
from ocpp_e2e.tariffs import (
    TariffVerdict,
    build_receipt,
    set_default_tariff_request,
    sign_receipt,
    sign_tariff,
    tariff_digest,
    validate_set_default_tariff,
    verify_receipt,
    verify_tariff,
)
from ocpp_e2e.verify import Verifier

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "keys-example"
DATA = Path(__file__).parent / "data" / "tariffs"
WHEN = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def example_signer(name: str) -> KeySigner:
    chain = pem_chain_der((KEYS / f"{name}.chain.pem").read_bytes())
    return KeySigner(load_private_key(KEYS / f"{name}.key.pem"), certificates=chain)


@pytest.fixture(scope="module")
def anchors() -> ChainValidator:
    return ChainValidator.from_files([KEYS / "root-ca.crt.pem"])


@pytest.fixture(scope="module")
def verifier(anchors: ChainValidator) -> Verifier:
    return Verifier(Keyring(), certificates=anchors)


@pytest.fixture(scope="module")
def signed(anchors: ChainValidator) -> dict[str, Any]:
    return sign_tariff(
        load("per-minute.tariff.json"),
        example_signer("tariff-signer"),
        certificates=anchors,
        timestamp=WHEN,
    )


# --------------------------------------------------------------------------- signing


def test_signature_lives_in_custom_data(signed: dict[str, Any]) -> None:
    assert signed["customData"]["vendorId"] == "org.ocpp-e2e"
    assert len(signed["customData"]["signatures"]) == 1
    assert "signatures" not in signed


def test_signed_tariff_validates_inside_set_default_tariff_request(signed: dict[str, Any]) -> None:
    request = set_default_tariff_request(signed, evse_id=1)
    validate_set_default_tariff(request)
    assert request["tariff"] == signed


def test_set_default_tariff_request_with_a_bad_evse_id_is_refused(signed: dict[str, Any]) -> None:
    with pytest.raises(TariffError, match=r"\$\.evseId: -1 is less than the minimum of 0"):
        set_default_tariff_request(signed, evse_id=-1)


def test_signing_does_not_change_the_digest(signed: dict[str, Any]) -> None:
    assert tariff_digest(signed) == tariff_digest(load("per-minute.tariff.json"))


def test_certificate_without_tariff_signing_cannot_sign(anchors: ChainValidator) -> None:
    with pytest.raises(
        SigningError,
        match=r"certificate identity ops-1 may not sign tariffs: "
        r"its usages are csmsOperator, tariffSigning is required",
    ):
        sign_tariff(
            load("per-minute.tariff.json"), example_signer("csms-operator"), certificates=anchors, timestamp=datetime.now(UTC)
        )


def test_certificate_signer_needs_trust_anchors() -> None:
    with pytest.raises(SigningError, match=r"give the trust anchors"):
        sign_tariff(load("per-minute.tariff.json"), example_signer("tariff-signer"), timestamp=datetime.now(UTC))


def test_certificate_from_a_foreign_root_cannot_sign(anchors: ChainValidator) -> None:
    key = generate_private_key()
    root = create_root(generate_private_key(), "foreign-root", valid_for=timedelta(days=1), not_before=datetime.now(UTC).replace(microsecond=0))
    cert = root.issue(
        key.public_key(),
        identity="fake-tariffs",
        usages=["tariffSigning"],
        valid_for=timedelta(hours=1), not_before=datetime.now(UTC).replace(microsecond=0),
    )
    signer = KeySigner(key, certificates=[cert.public_bytes(Encoding.DER)])
    with pytest.raises(SigningError, match=r"the signer's certificate chain is not trusted"):
        sign_tariff(load("per-minute.tariff.json"), signer, certificates=anchors, timestamp=datetime.now(UTC))


def test_bare_key_with_keyring_role_tariff_signing_can_sign_and_verify() -> None:
    key = generate_private_key("ES256")
    ring = Keyring()
    ring.add(key.public_key(), name="price-desk", roles=["tariffSigning"])
    signed = sign_tariff(load("per-kwh.tariff.json"), KeySigner(key), keyring=ring, timestamp=datetime.now(UTC))
    result = verify_tariff(signed, Verifier(ring), now=datetime.now(UTC))
    assert result.verdict is TariffVerdict.ACCEPTED
    assert [(s.identity, sorted(s.roles)) for s in result.signers] == [
        ("price-desk", ["tariffSigning"])
    ]


def test_bare_key_without_the_role_cannot_sign() -> None:
    key = generate_private_key()
    ring = Keyring()
    ring.add(key.public_key(), name="ops", roles=["csms-admin"])
    with pytest.raises(
        SigningError, match=r"keyring entry ops may not sign tariffs: its roles are csms-admin"
    ):
        sign_tariff(load("per-kwh.tariff.json"), KeySigner(key), keyring=ring, timestamp=datetime.now(UTC))


def test_bare_key_outside_the_keyring_cannot_sign() -> None:
    with pytest.raises(SigningError, match=r"has no certificate and no keyring entry"):
        sign_tariff(
            load("per-kwh.tariff.json"), KeySigner(generate_private_key()), keyring=Keyring(), timestamp=datetime.now(UTC)
        )


def test_invalid_tariff_type_is_not_signed(anchors: ChainValidator) -> None:
    with pytest.raises(TariffError, match=r"\$: 'currency' is a required property"):
        sign_tariff({"tariffId": "t"}, example_signer("tariff-signer"), certificates=anchors, timestamp=datetime.now(UTC))


# --------------------------------------------------------------------------- verification


def test_verification_reports_signer_usages_and_digest(
    signed: dict[str, Any], verifier: Verifier
) -> None:
    result = verify_tariff(signed, verifier, now=datetime.now(UTC))
    assert result.verdict is TariffVerdict.ACCEPTED
    assert result.reason == "signed by tariffs-example"
    assert result.digest == tariff_digest(signed)
    view = result.to_dict()["signers"][0]
    assert (view["signer"], view["usages"]) == ("tariffs-example", ["tariffSigning"])


def test_tampered_tariff_is_rejected(signed: dict[str, Any], verifier: Verifier) -> None:
    tampered = copy.deepcopy(signed)
    tampered["chargingTime"]["prices"][0]["priceMinute"] = 0.65
    result = verify_tariff(tampered, verifier, now=datetime.now(UTC))
    assert result.verdict is TariffVerdict.REJECTED
    assert result.reason.startswith(
        "signature 0 (tariffs-example) is invalid: the signature does not verify"
    )


def test_tampered_step_size_is_rejected(signed: dict[str, Any], verifier: Verifier) -> None:
    tampered = copy.deepcopy(signed)
    tampered["chargingTime"]["prices"][0]["customData"]["stepSize"] = 60
    assert verify_tariff(tampered, verifier, now=datetime.now(UTC)).verdict is TariffVerdict.REJECTED


def test_tariff_signed_by_a_key_without_tariff_signing_is_rejected(verifier: Verifier) -> None:
    forged = sign_object(load("per-minute.tariff.json"), example_signer("csms-operator"),
                         context=structure_context("Tariff"), carrier="customData", timestamp=datetime.now(UTC))  # fmt: skip
    result = verify_tariff(forged, verifier, now=datetime.now(UTC))
    assert result.verdict is TariffVerdict.REJECTED
    assert result.reason == (
        "no signer with usage or role tariffSigning: "
        "signature 0 (ops-1) is valid but holds csmsOperator"
    )


def test_unsigned_tariff_is_rejected(verifier: Verifier) -> None:
    result = verify_tariff(load("per-minute.tariff.json"), verifier, now=datetime.now(UTC))
    assert (result.verdict, result.reason) == (TariffVerdict.REJECTED, "the tariff is not signed")


def test_signature_by_an_unknown_key_is_rejected() -> None:
    key = generate_private_key()
    forged = sign_object(
        load("per-kwh.tariff.json"),
        KeySigner(key),
        context=structure_context("Tariff"),
        carrier="customData", timestamp=datetime.now(UTC),
    )
    result = verify_tariff(forged, Verifier(Keyring()), now=datetime.now(UTC))
    assert result.verdict is TariffVerdict.REJECTED
    assert "signature 0 is unknown-key" in result.reason


def test_signature_made_for_another_structure_type_is_rejected(verifier: Verifier) -> None:
    moved = sign_object(load("per-minute.tariff.json"), example_signer("tariff-signer"),
                        context=structure_context("CostReceipt"), carrier="customData", timestamp=datetime.now(UTC))  # fmt: skip
    result = verify_tariff(moved, verifier, now=datetime.now(UTC))
    assert result.verdict is TariffVerdict.REJECTED and "is invalid" in result.reason


def test_signatures_in_both_carriers_are_rejected(
    signed: dict[str, Any], verifier: Verifier
) -> None:
    both = {**copy.deepcopy(signed), "signatures": signed["customData"]["signatures"]}
    with pytest.raises(
        TariffError, match=r"Additional properties are not allowed \('signatures' was unexpected\)"
    ):
        verify_tariff(both, verifier, now=datetime.now(UTC))


def test_tariff_bytes_with_duplicate_members_are_refused_before_verification(
    verifier: Verifier,
) -> None:
    where = r"^tariff: \$ \(line 1, column 29\): "
    with pytest.raises(IJSONError, match=where + r'duplicate member name "tariffId"'):
        verify_tariff(b'{"tariffId": "a", "tariffId": "b", "currency": "EUR"}', verifier, now=datetime.now(UTC))


# --------------------------------------------------------------------------- receipts


@pytest.fixture(scope="module")
def receipt(signed: dict[str, Any]) -> dict[str, Any]:
    unsigned = build_receipt(
        signed, load("session-39min.json"), receipt_id="r-0001", issued_at=WHEN
    )
    return sign_receipt(unsigned, example_signer("station-1"), timestamp=WHEN)


def test_receipt_names_the_tariff_by_id_and_digest(
    receipt: dict[str, Any], signed: dict[str, Any]
) -> None:
    assert receipt["tariff"] == {"tariffId": "per-minute-15", "digest": tariff_digest(signed)}
    assert receipt["cost"]["totalInclTax"] == "348.075"
    assert receipt["type"] == "CostReceipt" and len(receipt["signatures"]) == 1


def test_receipt_verifies_and_matches_the_bill_the_tariff_implies(
    receipt: dict[str, Any], signed: dict[str, Any], verifier: Verifier
) -> None:
    result = verify_receipt(receipt, verifier, tariff=signed, now=datetime.now(UTC))
    assert result.valid and result.recomputed
    assert result.reason == "signed by cs-0001; the cost is exactly what the tariff implies"


def test_tampered_receipt_is_invalid(receipt: dict[str, Any], verifier: Verifier) -> None:
    tampered = copy.deepcopy(receipt)
    tampered["cost"]["totalInclTax"] = "34.80"
    result = verify_receipt(tampered, verifier, now=datetime.now(UTC))
    assert not result.valid and "is invalid" in result.reason


def test_receipt_with_a_wrong_bill_is_invalid_even_when_signed(
    signed: dict[str, Any], verifier: Verifier
) -> None:
    unsigned = build_receipt(signed, load("session-39min.json"), receipt_id="r-2", issued_at=WHEN)
    unsigned["cost"]["lines"][0]["billedQuantity"] = "2340"
    resigned = sign_receipt(unsigned, example_signer("station-1"), timestamp=datetime.now(UTC))
    result = verify_receipt(resigned, verifier, tariff=signed, now=datetime.now(UTC))
    assert not result.valid
    assert result.reason == (
        "the receipt's cost is not what the tariff implies: first difference at "
        "cost.lines[0].billedQuantity ('2340' vs '2700')"
    )


def test_receipt_for_another_tariff_is_invalid(receipt: dict[str, Any], verifier: Verifier) -> None:
    other = load("per-kwh.tariff.json")
    result = verify_receipt(receipt, verifier, tariff=other, now=datetime.now(UTC))
    assert not result.valid and result.reason.startswith(
        "the receipt names tariff per-minute-15 with digest"
    )


def test_unsigned_receipt_is_invalid(signed: dict[str, Any], verifier: Verifier) -> None:
    unsigned = build_receipt(signed, load("session-39min.json"), receipt_id="r-3", issued_at=WHEN)
    result = verify_receipt(unsigned, verifier, now=datetime.now(UTC))
    assert (result.valid, result.reason) == (False, "the receipt is not signed")


def test_receipt_with_unknown_members_is_refused(
    receipt: dict[str, Any], verifier: Verifier
) -> None:
    with pytest.raises(TariffError, match=r"receipt: \$: unknown member\(s\) discount"):
        verify_receipt({**receipt, "discount": "10%"}, verifier, now=datetime.now(UTC))
