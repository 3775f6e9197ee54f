"""The SPEC §1 algorithm table: every row signs, verifies and refuses what it must; ML-DSA-65
(FIPS 204, pure, empty context) works for keyring keys and the PKI refuses to certify it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import mldsa
from typer.testing import CliRunner

from ocpp_e2e._b64 import b64url_decode, b64url_encode
from ocpp_e2e.algorithms import ALGORITHMS, algorithm_of
from ocpp_e2e.cli import app
from ocpp_e2e.errors import KeyLoadError, PKIError
from ocpp_e2e.keys import (
    Keyring,
    KeySigner,
    generate_private_key,
    load_private_key,
    load_public_key_text,
    public_key_to_pem,
    spki_der,
    write_private_key,
)
from ocpp_e2e.model import Outcome
from ocpp_e2e.pki import create_root
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.verify import Verifier

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
RESET = '[2, "1", "Reset", {"type": "Immediate"}]'
CERTIFIABLE = [n for n, r in ALGORITHMS.items() if r.certificates]


def _signed(alg: str) -> tuple[str, Keyring]:
    key = generate_private_key(alg)
    ring = Keyring()
    ring.add(key.public_key(), name=f"{alg}-1")
    text = sign_frame(RESET, KeySigner(key), ocpp="2.0.1", station="cs-1", timestamp=NOW)
    return text, ring


def _verify(text: str, ring: Keyring) -> tuple[Outcome, str]:
    result = Verifier(ring).verify_frame(text, ocpp="2.0.1", station="cs-1", now=NOW)
    (only,) = result.verification.signatures
    return only.outcome, only.reason


def _edit_signature(text: str, **members: object) -> str:
    frame = json.loads(text)
    frame[3]["customData"]["signatures"][0].update(members)
    return json.dumps(frame)


def test_the_table_holds_the_spec_algorithms_with_their_signature_lengths() -> None:
    assert {n: r.signature_length for n, r in ALGORITHMS.items()} == {
        "Ed25519": 64,
        "ES256": 64,
        "ES384": 96,
        "ES512": 132,
        "ML-DSA-65": 3309,
    }


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_each_row_recognizes_its_own_keys_and_no_other_rows_keys(alg: str) -> None:
    key = generate_private_key(alg)
    assert [n for n, r in ALGORITHMS.items() if r.fits(key)] == [alg]
    assert [n for n, r in ALGORITHMS.items() if r.fits(key.public_key())] == [alg]
    assert algorithm_of(key.public_key()).name == alg


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_a_row_refuses_a_signature_under_another_rows_key(alg: str) -> None:
    row = ALGORITHMS[alg]
    own = generate_private_key(alg)
    signature = row.sign(own, b"m")
    for other in ALGORITHMS:
        if other != alg:
            assert not row.verify(generate_private_key(other).public_key(), signature, b"m")


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_a_frame_signed_with_a_keyring_key_of_each_algorithm_is_valid(alg: str) -> None:
    text, ring = _signed(alg)
    assert _verify(text, ring)[0] is Outcome.VALID


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_a_value_one_byte_short_is_malformed_and_says_the_length(alg: str) -> None:
    text, ring = _signed(alg)
    value = b64url_decode(json.loads(text)[3]["customData"]["signatures"][0]["value"])
    outcome, reason = _verify(_edit_signature(text, value=b64url_encode(value[:-1])), ring)
    assert outcome is Outcome.MALFORMED
    assert reason == f"an {alg} value has {len(value)} bytes, this one {len(value) - 1}"


def test_an_ml_dsa_signature_over_a_changed_payload_is_invalid() -> None:
    text, ring = _signed("ML-DSA-65")
    frame = json.loads(text)
    frame[3]["type"] = "OnIdle"
    outcome, reason = _verify(json.dumps(frame), ring)
    assert outcome is Outcome.INVALID
    assert reason.startswith("the signature does not verify")


def test_an_ml_dsa_signature_that_claims_another_algorithm_is_invalid() -> None:
    text, ring = _signed("ML-DSA-65")
    outcome, reason = _verify(_edit_signature(text, algorithm="ES256"), ring)
    # A 3309-byte value is not a 64-byte ES256 value: refused before any key is used.
    assert outcome is Outcome.MALFORMED
    assert reason == "an ES256 value has 64 bytes, this one 3309"


def test_an_ed25519_value_labelled_ml_dsa_under_an_ed25519_key_is_invalid() -> None:
    key = generate_private_key("Ed25519")
    ring = Keyring()
    ring.add(key.public_key(), name="ed-1")
    text = sign_frame(RESET, KeySigner(key), ocpp="2.0.1", station="cs-1", timestamp=NOW)
    fake = b64url_encode(bytes(3309))
    outcome, reason = _verify(_edit_signature(text, algorithm="ML-DSA-65", value=fake), ring)
    assert outcome is Outcome.INVALID
    assert reason == "algorithm ML-DSA-65 does not match the signer's Ed25519 key"


def test_an_ml_dsa_signature_made_with_a_non_empty_context_does_not_verify() -> None:
    # SPEC §1: pure ML-DSA with the empty context string; another context is another message.
    key = mldsa.MLDSA65PrivateKey.generate()
    signature = key.sign(b"m", b"ocpp")
    assert not ALGORITHMS["ML-DSA-65"].verify(key.public_key(), signature, b"m")
    assert ALGORITHMS["ML-DSA-65"].verify(key.public_key(), key.sign(b"m"), b"m")


def test_an_ml_dsa_key_round_trips_through_pem_files_and_keyrings(tmp_path: Path) -> None:
    key = generate_private_key("ML-DSA-65")
    write_private_key(tmp_path / "k.pem", key)
    loaded = load_private_key(tmp_path / "k.pem")
    assert spki_der(loaded) == spki_der(key)
    _pub, der = load_public_key_text(public_key_to_pem(key).decode())
    assert der == spki_der(key) and len(der) == 1974
    ring = Keyring.from_entries([{"publicKey": public_key_to_pem(key).decode(), "name": "pq-1"}])
    assert len(ring) == 1


def test_a_truncated_ml_dsa_public_key_is_refused() -> None:
    der = spki_der(generate_private_key("ML-DSA-65"))
    with pytest.raises(KeyLoadError, match="not a usable SubjectPublicKeyInfo"):
        load_public_key_text(b64url_encode(der[:-1]))


@pytest.mark.parametrize("alg", CERTIFIABLE)
def test_the_pki_certifies_keys_of_every_row_that_allows_certificates(alg: str) -> None:
    root = create_root(generate_private_key(alg), "root", valid_for=timedelta(days=1), not_before=datetime.now(UTC).replace(microsecond=0))
    cert = root.issue(
        generate_private_key(alg).public_key(),
        "cs-1",
        ["chargingStation"],
        valid_for=timedelta(hours=1), not_before=datetime.now(UTC).replace(microsecond=0),
    )
    assert cert.public_key() is not None


def test_the_pki_refuses_to_certify_an_ml_dsa_key_and_says_why() -> None:
    root = create_root(generate_private_key("ES256"), "root", valid_for=timedelta(days=1), not_before=datetime.now(UTC).replace(microsecond=0))
    with pytest.raises(PKIError) as caught:
        root.issue(
            generate_private_key("ML-DSA-65").public_key(),
            "cs-1",
            ["chargingStation"],
            valid_for=timedelta(hours=1), not_before=datetime.now(UTC).replace(microsecond=0),
        )
    assert str(caught.value) == (
        "ML-DSA-65 keys cannot be certified: X.509 tooling does not support them yet (SPEC §1); "
        "keep such a key in a keyring, or use Ed25519, ES256, ES384, ES512"
    )


def test_an_ml_dsa_key_cannot_be_a_root() -> None:
    with pytest.raises(PKIError, match="ML-DSA-65 keys cannot be certified"):
        create_root(generate_private_key("ML-DSA-65"), "root", valid_for=timedelta(days=1), not_before=datetime.now(UTC).replace(microsecond=0))


def test_cli_keygen_makes_an_ml_dsa_key_and_pki_issue_refuses_it(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["keygen", "--algorithm", "ML-DSA-65", "--out", str(tmp_path / "keygen.key.pem")]
    )
    assert result.exit_code == 0, result.output
    assert "(ML-DSA-65)" in result.stdout
    assert runner.invoke(app, ["pki", "init-root", "r", "--out", str(tmp_path)]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "pki", "issue", "pq", "--ca", str(tmp_path / "r.crt.pem"), "--identity", "cs-1",
            "--usage", "chargingStation", "--key-type", "ML-DSA-65", "--out", str(tmp_path),
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ML-DSA-65 keys cannot be certified")
    assert not (tmp_path / "pq.key.pem").exists() and not (tmp_path / "pq.crt.pem").exists()
