"""The real OCMF corpus (tests/data/meter/real/): every record gets the verdict its README names.

Records come from the public test fixtures of the reference verifiers (S.A.F.E.
Transparenzsoftware, Chargy) and of other OCMF projects, exactly as published; each is verified
under the public key published with it, given as a trusted key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ocpp_e2e.errors import KeyLoadError
from ocpp_e2e.meter import MeterKeyring, MeterVerifier, RecordVerification, decode_public_key

REAL = Path(__file__).parent / "data" / "meter" / "real"
MANIFEST: list[dict[str, Any]] = json.loads((REAL / "manifest.json").read_text("utf-8"))


def _verify(entry: dict[str, Any]) -> RecordVerification:
    ring = MeterKeyring()
    if "key" in entry:
        ring.add(decode_public_key((REAL / entry["key"]).read_text("utf-8"), where=entry["key"]))
    text = (REAL / f"{entry['id']}.ocmf").read_bytes()
    return MeterVerifier(ring).verify_text(text, where=entry["id"])


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["id"] for e in MANIFEST])
def test_real_record_gets_the_expected_verdict(entry: dict[str, Any]) -> None:
    result = _verify(entry)
    assert result.verdict.value == entry["expected"], result.reason


def test_corpus_covers_at_least_30_records_from_6_manufacturers() -> None:
    assert len(MANIFEST) >= 30
    assert len({e["manufacturer"] for e in MANIFEST}) >= 6


def test_tampered_reference_fixtures_are_refused_as_signatures_that_do_not_verify() -> None:
    for entry in (e for e in MANIFEST if e["expected"] == "invalid"):
        result = _verify(entry)
        assert "signature does not verify" in result.reason
        assert result.record is not None  # read fine: the refusal is the signature's


def test_secp192k1_record_verifies_and_a_changed_one_does_not() -> None:
    entry = next(e for e in MANIFEST if "secp192k1" in e["id"])
    assert _verify(entry).valid
    key = decode_public_key((REAL / entry["key"]).read_text("utf-8"), where=entry["key"])
    ring = MeterKeyring()
    ring.add(key)
    text = (REAL / f"{entry['id']}.ocmf").read_text("utf-8").replace('"RV":3.51824', '"RV":3.51825')
    assert MeterVerifier(ring).verify_text(text).verdict.value == "invalid"


def test_secp192k1_key_round_trips_through_its_subject_public_key_info() -> None:
    entry = next(e for e in MANIFEST if "secp192k1" in e["id"])
    key = decode_public_key((REAL / entry["key"]).read_text("utf-8"))
    der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    pem = key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    assert decode_public_key(der) == key == decode_public_key(pem)
    assert key.curve.name == "secp192k1"


def test_point_off_secp192k1_is_refused_as_a_key() -> None:
    entry = next(e for e in MANIFEST if "secp192k1" in e["id"])
    text = (REAL / entry["key"]).read_text("utf-8").replace("C2 00", "C2 01")
    with pytest.raises(KeyLoadError):
        decode_public_key(text)


def test_vendor_members_are_kept_and_named_in_the_notes() -> None:
    result = _verify(next(e for e in MANIFEST if "bauer-bsm" in e["id"]))
    assert result.record is not None
    assert set(result.record.readings[0].extra) >= {"XI", "XT", "XU", "XV"}
    assert any("XI, XT, XU, XV" in n for n in result.notes)


def test_rv_as_a_numeric_string_is_read_as_that_exact_decimal() -> None:
    result = _verify(next(e for e in MANIFEST if e["id"].startswith("05-")))
    assert result.record is not None
    value = result.record.readings[0].value
    assert value is not None and str(value) == "9.038"


def test_raw_point_key_and_raw_signature_verify_with_notes() -> None:
    result = _verify(next(e for e in MANIFEST if "isabellenhuette-publickey" in e["id"]))
    assert result.valid
    assert any("raw r||s" in n for n in result.notes)
