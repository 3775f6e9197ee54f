"""Signature verdicts on OCMF records (OCMF rev. 1.2 Tables 8 and 22)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ocpp_e2e.errors import KeyLoadError
from ocpp_e2e.keys import Keyring
from ocpp_e2e.meter import (
    ALGORITHMS,
    MeterKeyring,
    MeterVerdict,
    MeterVerifier,
    parse_record,
    supported_algorithms,
    unsupported_algorithms,
)
from ocpp_e2e.meter.sign import sign_payload
from ocpp_e2e.model import ChainResult

DATA = Path(__file__).parent / "data" / "meter"

PAYLOAD = (
    '{"FV":"1.0","GI":"ACME Wallbox","GS":"GW-1","PG":"T7","MS":"M-100","IS":true,"IT":"ISO14443",'
    '"ID":"1F2D3A4F","RD":[{"TM":"2024-05-01T10:00:00,000+0200 S","TX":"B","RV":100.25,'
    '"RI":"1-b:1.8.0","RU":"kWh","RT":"AC","EF":"","ST":"G"}]}'
)

CURVES = {
    "ECDSA-secp256r1-SHA256": ec.SECP256R1,
    "ECDSA-secp384r1-SHA256": ec.SECP384R1,
    "ECDSA-secp256k1-SHA256": ec.SECP256K1,
    "ECDSA-brainpool256r1-SHA256": ec.BrainpoolP256R1,
    "ECDSA-brainpool384r1-SHA256": ec.BrainpoolP384R1,
    "ECDSA-secp192r1-SHA256": ec.SECP192R1,
}


@pytest.fixture(scope="module")
def keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    return {alg: ec.generate_private_key(curve()) for alg, curve in CURVES.items()}


def ring_for(*pubs: ec.EllipticCurvePublicKey, meter: str | None = None) -> MeterKeyring:
    ring = MeterKeyring()
    for i, pub in enumerate(pubs):
        ring.add(pub, name=f"meter-key-{i}", meter=meter)
    return ring


def spki_hex(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        .hex()
    )


# --------------------------------------------------------------------------- every curve


@pytest.mark.parametrize("algorithm", list(CURVES))
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_record_signed_on_each_curve_is_valid_under_trusted_key(keys, algorithm, encoding):
    key = keys[algorithm]
    record = sign_payload(PAYLOAD, key, encoding=encoding)
    result = MeterVerifier(ring_for(key.public_key())).verify_text(record)
    assert result.verdict is MeterVerdict.VALID
    assert result.record is not None and result.record.algorithm == algorithm
    assert result.key is not None and result.key.name == "meter-key-0"


@pytest.mark.parametrize("algorithm", list(CURVES))
def test_changed_reading_on_each_curve_is_invalid(keys, algorithm):
    key = keys[algorithm]
    record = sign_payload(PAYLOAD, key).replace('"RV":100.25', '"RV":100.26')
    result = MeterVerifier(ring_for(key.public_key())).verify_text(record)
    assert result.verdict is MeterVerdict.INVALID
    assert result.reason.startswith("signature does not verify under 1 trusted key(s)")


def test_every_table_curve_is_supported_here_secp192k1_on_the_ecdsa_package():
    assert set(supported_algorithms()) == set(CURVES) | {"ECDSA-secp192k1-SHA256"}
    assert unsupported_algorithms() == {}


def test_table_hash_is_sha256_for_every_algorithm_including_384_bit_curves():
    assert {a.hash().name for a in ALGORITHMS.values()} == {"sha256"}


# --------------------------------------------------------------------------- encodings


def test_lower_case_hex_signature_is_valid(keys):
    key = keys["ECDSA-secp256r1-SHA256"]
    record = sign_payload(PAYLOAD, key, uppercase=False)
    sd = json.loads(record.rsplit("|", 1)[1])["SD"]
    assert sd == sd.lower()
    assert MeterVerifier(ring_for(key.public_key())).verify_text(record).valid


def test_upper_case_hex_signature_is_valid(keys):
    key = keys["ECDSA-secp256r1-SHA256"]
    record = sign_payload(PAYLOAD, key, uppercase=True)
    sd = json.loads(record.rsplit("|", 1)[1])["SD"]
    assert sd == sd.upper()
    assert MeterVerifier(ring_for(key.public_key())).verify_text(record).valid


def test_missing_sa_means_secp256r1(keys):
    key = keys["ECDSA-secp256r1-SHA256"]
    record = sign_payload(PAYLOAD, key, include_algorithm=False)
    assert '"SA"' not in record
    result = MeterVerifier(ring_for(key.public_key())).verify_text(record)
    assert result.verdict is MeterVerdict.VALID
    assert result.record is not None and result.record.algorithm == "ECDSA-secp256r1-SHA256"


def test_whitespace_inside_payload_is_signed_as_received(keys):
    key = keys["ECDSA-brainpool256r1-SHA256"]
    spaced = json.dumps(json.loads(PAYLOAD), indent=4)
    record = sign_payload("\n" + spaced + "\n", key)
    assert MeterVerifier(ring_for(key.public_key())).verify_text(record).valid


def test_whitespace_removed_from_signed_payload_is_invalid(keys):
    key = keys["ECDSA-secp256r1-SHA256"]
    spaced = json.dumps(json.loads(PAYLOAD), indent=4)
    record = sign_payload(spaced, key)
    compacted = "OCMF|" + PAYLOAD + "|" + record.rsplit("|", 1)[1]
    result = MeterVerifier(ring_for(key.public_key())).verify_text(compacted)
    assert result.verdict is MeterVerdict.INVALID


def test_pipe_inside_a_payload_string_does_not_move_the_section_boundary(keys):
    key = keys["ECDSA-secp256r1-SHA256"]
    payload = PAYLOAD.replace('"ACME Wallbox"', '"ACME|Wallbox"')
    result = MeterVerifier(ring_for(key.public_key())).verify_text(sign_payload(payload, key))
    assert result.verdict is MeterVerdict.VALID
    assert result.record is not None and result.record.payload["GI"] == "ACME|Wallbox"


# --------------------------------------------------------------------------- tampering


def test_changed_timestamp_is_invalid(keys):
    key = keys["ECDSA-secp384r1-SHA256"]
    record = sign_payload(PAYLOAD, key).replace("10:00:00,000", "09:00:00,000")
    result = MeterVerifier(ring_for(key.public_key())).verify_text(record)
    assert result.verdict is MeterVerdict.INVALID


def test_changed_meter_serial_is_invalid_for_an_unbound_key(keys):
    key = keys["ECDSA-secp256r1-SHA256"]
    record = sign_payload(PAYLOAD, key).replace('"MS":"M-100"', '"MS":"M-101"')
    result = MeterVerifier(ring_for(key.public_key())).verify_text(record)
    assert result.verdict is MeterVerdict.INVALID


def test_signature_of_another_record_is_invalid(keys):
    key = keys["ECDSA-secp256r1-SHA256"]
    other = sign_payload(PAYLOAD.replace("T7", "T8"), key)
    forged = "OCMF|" + PAYLOAD + "|" + other.rsplit("|", 1)[1]
    assert (
        MeterVerifier(ring_for(key.public_key())).verify_text(forged).verdict
        is MeterVerdict.INVALID
    )


def test_ber_long_form_length_signature_does_not_verify(keys):
    key = keys["ECDSA-secp256r1-SHA256"]
    record = sign_payload(PAYLOAD, key)
    der = bytes.fromhex(json.loads(record.rsplit("|", 1)[1])["SD"])
    decode_dss_signature(der)  # a valid signature, re-encoded below
    # BER long-form length for the outer SEQUENCE: the same numbers, another encoding.
    body = der[2:]
    ber = bytes([0x30, 0x81, len(body)]) + body
    bad = (
        record.rsplit("|", 1)[0]
        + "|"
        + json.dumps({"SA": "ECDSA-secp256r1-SHA256", "SD": ber.hex()})
    )
    result = MeterVerifier(ring_for(key.public_key())).verify_text(bad)
    assert result.verdict is MeterVerdict.INVALID
    assert result.reason == (
        "the signature does not verify: SD is neither a DER ECDSA signature (SEQUENCE of two "
        "INTEGERs) nor raw r||s"
    )


def _fixed_width_der(r: int, s: int, size: int) -> bytes:
    # What the eBZ meter writes: each INTEGER as exactly `size` unsigned bytes.
    body = b"".join(b"\x02" + bytes([size]) + v.to_bytes(size, "big") for v in (r, s))
    return b"\x30" + bytes([len(body)]) + body


def _with_sd(record: str, sd: bytes) -> str:
    return (
        record.rsplit("|", 1)[0]
        + "|"
        + json.dumps({"SA": "ECDSA-secp256r1-SHA256", "SD": sd.hex()})
    )


def test_der_with_unsigned_fixed_width_integers_verifies_with_a_note(keys):
    key = keys["ECDSA-secp256r1-SHA256"]
    # Sign until r has its high bit set and s has not: the fixed-width form then lacks r's zero
    # byte and, at 33 bytes, carries one s does not need - both odd encodings at once.
    for _ in range(200):
        record = sign_payload(PAYLOAD, key)
        r, s = decode_dss_signature(bytes.fromhex(json.loads(record.rsplit("|", 1)[1])["SD"]))
        if r >> 255 and not s >> 255:
            break
    body = b"\x02\x20" + r.to_bytes(32, "big") + b"\x02\x21" + s.to_bytes(33, "big")
    odd = b"\x30" + bytes([len(body)]) + body
    result = MeterVerifier(ring_for(key.public_key())).verify_text(_with_sd(record, odd))
    assert result.verdict is MeterVerdict.VALID
    assert any("fixed-size unsigned" in n for n in result.notes)


def test_der_with_unsigned_integers_of_another_pair_does_not_verify(keys):
    key = keys["ECDSA-secp256r1-SHA256"]
    record = sign_payload(PAYLOAD, key)
    r, s = decode_dss_signature(bytes.fromhex(json.loads(record.rsplit("|", 1)[1])["SD"]))
    odd = _fixed_width_der(r, s ^ 1, 32)
    result = MeterVerifier(ring_for(key.public_key())).verify_text(_with_sd(record, odd))
    assert result.verdict is MeterVerdict.INVALID


def test_raw_r_s_signature_verifies_with_a_note(keys):
    key = keys["ECDSA-secp256r1-SHA256"]
    record = sign_payload(PAYLOAD, key)
    r, s = decode_dss_signature(bytes.fromhex(json.loads(record.rsplit("|", 1)[1])["SD"]))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    result = MeterVerifier(ring_for(key.public_key())).verify_text(_with_sd(record, raw))
    assert result.verdict is MeterVerdict.VALID
    assert any("raw r||s" in n for n in result.notes)


def test_raw_r_s_of_the_wrong_length_does_not_verify(keys):
    key = keys["ECDSA-secp256r1-SHA256"]
    record = sign_payload(PAYLOAD, key)
    result = MeterVerifier(ring_for(key.public_key())).verify_text(_with_sd(record, b"\x01" * 63))
    assert result.verdict is MeterVerdict.INVALID


# --------------------------------------------------------------------------- trust


def test_record_under_an_untrusted_key_is_unknown_key(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    other = ec.generate_private_key(ec.SECP384R1())
    result = MeterVerifier(ring_for(other.public_key())).verify_text(sign_payload(PAYLOAD, signer))
    assert result.verdict is MeterVerdict.UNKNOWN_KEY
    assert result.reason == (
        "no trusted secp256r1 key for meter GW-1/M-100 and no usable key in the message"
    )


def test_record_under_another_key_on_the_same_curve_is_invalid(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    other = ec.generate_private_key(ec.SECP256R1())
    result = MeterVerifier(ring_for(other.public_key())).verify_text(sign_payload(PAYLOAD, signer))
    assert result.verdict is MeterVerdict.INVALID


def test_record_verifying_only_under_the_embedded_key_is_valid_untrusted(keys):
    signer = keys["ECDSA-secp256k1-SHA256"]
    result = MeterVerifier(MeterKeyring()).verify_text(
        sign_payload(PAYLOAD, signer), embedded_key=spki_hex(signer)
    )
    assert result.verdict is MeterVerdict.VALID_UNTRUSTED
    assert not result.valid and result.verified
    assert result.reason == (
        "verified only under the key that came with the message (it is not in the meter keyring)"
    )


def test_embedded_key_that_is_trusted_gives_valid(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    ring = ring_for(signer.public_key())
    result = MeterVerifier(ring).verify_text(
        sign_payload(PAYLOAD, signer), embedded_key=spki_hex(signer)
    )
    assert result.verdict is MeterVerdict.VALID


def test_changed_record_with_its_embedded_key_is_invalid(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    record = sign_payload(PAYLOAD, signer).replace("100.25", "10.25")
    result = MeterVerifier(MeterKeyring()).verify_text(record, embedded_key=spki_hex(signer))
    assert result.verdict is MeterVerdict.INVALID
    assert "the key in the message" in result.reason


def test_unreadable_embedded_key_is_noted_and_ignored(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    result = MeterVerifier(MeterKeyring()).verify_text(
        sign_payload(PAYLOAD, signer), embedded_key="zz"
    )
    assert result.verdict is MeterVerdict.UNKNOWN_KEY
    assert result.notes and result.notes[0].startswith("embedded key ignored:")


def test_key_bound_to_another_meter_does_not_verify_this_meter(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    ring = ring_for(signer.public_key(), meter="M-999")
    result = MeterVerifier(ring).verify_text(sign_payload(PAYLOAD, signer))
    assert result.verdict is MeterVerdict.UNKNOWN_KEY


def test_key_bound_to_another_meter_but_embedded_is_valid_untrusted(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    ring = ring_for(signer.public_key(), meter="M-999")
    result = MeterVerifier(ring).verify_text(
        sign_payload(PAYLOAD, signer), embedded_key=spki_hex(signer)
    )
    assert result.verdict is MeterVerdict.VALID_UNTRUSTED
    assert "in the meter keyring, but not for this meter" in result.reason


def test_key_bound_to_this_meter_verifies(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    ring = ring_for(signer.public_key(), meter="M-100")
    assert MeterVerifier(ring).verify_text(sign_payload(PAYLOAD, signer)).valid


def test_meter_keyring_from_frame_keyring_keeps_p256_and_p384_keys(keys):
    frame_ring = Keyring()
    p256 = keys["ECDSA-secp256r1-SHA256"]
    frame_ring.add(p256.public_key(), name="meter-a")
    ring = MeterKeyring.from_keyring(frame_ring)
    assert [k.name for k in ring] == ["meter-a"]
    assert MeterVerifier(ring).verify_text(sign_payload(PAYLOAD, p256)).valid


class _FakeValidator:
    """A CertificateValidator stand-in: returns a fixed ChainResult (chain checks are the PKI's)."""

    def __init__(self, result: ChainResult) -> None:
        self.result = result

    def validate(self, chain, *, at, now):
        return self.result


def _chain_result(
    key: ec.EllipticCurvePrivateKey, usages: frozenset[str], ok: bool = True
) -> ChainResult:
    der = bytes.fromhex(spki_hex(key))
    return ChainResult(
        ok=ok,
        reason="ok" if ok else "expired",
        leaf_spki=der,
        identity="urn:meter:M-100",
        usages=usages,
    )


def test_certificate_with_meter_signing_usage_makes_the_key_trusted(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    ring = MeterKeyring()
    now = datetime(2024, 5, 1, tzinfo=UTC)
    entry = ring.add_certificate(
        [b"leaf"],
        _FakeValidator(_chain_result(signer, frozenset({"meterSigning"}))),
        at=now,
        now=now,
    )
    assert entry.source == "certificate" and entry.name == "urn:meter:M-100"
    assert MeterVerifier(ring).verify_text(sign_payload(PAYLOAD, signer)).valid


def test_certificate_without_meter_signing_usage_is_refused(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    now = datetime(2024, 5, 1, tzinfo=UTC)
    validator = _FakeValidator(_chain_result(signer, frozenset({"chargingStation"})))
    with pytest.raises(KeyLoadError, match="lacks the usage meterSigning"):
        MeterKeyring().add_certificate([b"leaf"], validator, at=now, now=now)


def test_certificate_that_does_not_validate_is_refused(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    now = datetime(2024, 5, 1, tzinfo=UTC)
    validator = _FakeValidator(_chain_result(signer, frozenset({"meterSigning"}), ok=False))
    with pytest.raises(KeyLoadError, match="meter certificate not trusted: expired"):
        MeterKeyring().add_certificate([b"leaf"], validator, at=now, now=now)


# --------------------------------------------------------------------------- algorithms


def test_secp192k1_record_without_a_key_on_that_curve_is_unknown_key(keys):
    record = parse_record(sign_payload(PAYLOAD, keys["ECDSA-secp256r1-SHA256"]))
    text = record.text.replace("ECDSA-secp256r1-SHA256", "ECDSA-secp192k1-SHA256")
    ring = MeterKeyring()
    ring.add(keys["ECDSA-secp256r1-SHA256"].public_key())
    result = MeterVerifier(ring).verify_text(text)
    assert result.verdict is MeterVerdict.UNKNOWN_KEY
    assert "no trusted secp192k1 key" in result.reason


def test_algorithm_outside_the_table_is_unsupported(keys):
    text = sign_payload(PAYLOAD, keys["ECDSA-secp256r1-SHA256"]).replace(
        "ECDSA-secp256r1-SHA256", "ECDSA-secp256r1-SHA512"
    )
    result = MeterVerifier(MeterKeyring()).verify_text(text)
    assert result.verdict is MeterVerdict.UNSUPPORTED_ALGORITHM
    assert "not in the OCMF algorithm table" in result.reason


def test_algorithm_label_that_does_not_fit_the_trusted_key_curve_is_unknown_key(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    text = sign_payload(PAYLOAD, signer).replace("ECDSA-secp256r1-SHA256", "ECDSA-secp256k1-SHA256")
    result = MeterVerifier(ring_for(signer.public_key())).verify_text(text)
    assert result.verdict is MeterVerdict.UNKNOWN_KEY


# --------------------------------------------------------------------------- public keys


def test_public_key_in_hex_with_whitespace_and_line_breaks_loads(keys):
    signer = keys["ECDSA-brainpool384r1-SHA256"]
    hexkey = spki_hex(signer).upper()
    spaced = "\n".join(
        " ".join(hexkey[i : i + 2] for i in range(j, min(j + 32, len(hexkey)), 2))
        for j in range(0, len(hexkey), 32)
    )
    ring = MeterKeyring()
    ring.add(spaced)
    assert MeterVerifier(ring).verify_text(sign_payload(PAYLOAD, signer)).valid


def test_public_key_in_base64_with_whitespace_loads(keys):
    signer = keys["ECDSA-secp192r1-SHA256"]
    b64 = base64.b64encode(bytes.fromhex(spki_hex(signer))).decode()
    ring = MeterKeyring()
    ring.add(b64[:20] + "\n  " + b64[20:])
    assert MeterVerifier(ring).verify_text(sign_payload(PAYLOAD, signer)).valid


def test_public_key_on_a_curve_outside_the_table_is_refused():
    with pytest.raises(KeyLoadError, match="curve secp521r1 is not in the OCMF algorithm table"):
        MeterKeyring().add(ec.generate_private_key(ec.SECP521R1()).public_key())


def test_public_key_that_is_not_spki_is_refused():
    with pytest.raises(KeyLoadError, match="not a SubjectPublicKeyInfo"):
        MeterKeyring().add("3059")


def test_same_key_under_two_names_is_refused(keys):
    pub = keys["ECDSA-secp256r1-SHA256"].public_key()
    ring = MeterKeyring()
    ring.add(pub, name="a")
    with pytest.raises(KeyLoadError, match="listed twice"):
        ring.add(pub, name="b")


def test_keyring_file_with_hex_key_bound_to_a_meter_loads(tmp_path, keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    path = tmp_path / "meters.json"
    path.write_text(
        json.dumps(
            {
                "keys": [
                    {
                        "publicKey": spki_hex(signer),
                        "name": "wallbox-3",
                        "meter": "M-100",
                        "gateway": "GW-1",
                    }
                ]
            }
        )
    )
    ring = MeterKeyring.load(path)
    entry = next(iter(ring))
    assert (entry.name, entry.meter, entry.gateway) == ("wallbox-3", "M-100", "GW-1")
    assert MeterVerifier(ring).verify_text(sign_payload(PAYLOAD, signer)).valid


def test_keyring_file_with_unknown_member_is_refused(tmp_path, keys):
    path = tmp_path / "meters.json"
    path.write_text(
        json.dumps(
            {"keys": [{"publicKey": spki_hex(keys["ECDSA-secp256r1-SHA256"]), "serial": "x"}]}
        )
    )
    with pytest.raises(KeyLoadError, match=r"meters.json: keys\[0\]: unknown member\(s\) serial"):
        MeterKeyring.load(path)


def test_private_key_file_is_refused_as_trust(tmp_path, keys):
    path = tmp_path / "meter.pem"
    path.write_bytes(
        keys["ECDSA-secp256r1-SHA256"].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyLoadError, match="this is a private key"):
        MeterKeyring().add_file(path)


def test_pem_and_der_key_files_load(tmp_path, keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    pub = signer.public_key()
    (tmp_path / "a.pem").write_bytes(
        pub.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (tmp_path / "b.der").write_bytes(bytes.fromhex(spki_hex(signer)))
    ring_a, ring_b = MeterKeyring(), MeterKeyring()
    assert ring_a.add_file(tmp_path / "a.pem").name == "a"
    assert ring_b.add_file(tmp_path / "b.der").key_id == ring_a.add_file(tmp_path / "a.pem").key_id


# --------------------------------------------------------------------------- public vector


def test_committed_public_vector_verifies_and_fails_when_changed():
    record = (DATA / "vector-secp256r1.ocmf").read_text().strip()
    ring = MeterKeyring()
    ring.add_file(DATA / "vector-secp256r1.pub.pem")
    verifier = MeterVerifier(ring)
    assert verifier.verify_text(record).verdict is MeterVerdict.VALID
    changed = record.replace('"RV": 2935.6', '"RV": 2935.7')
    assert changed != record
    assert verifier.verify_text(changed).verdict is MeterVerdict.INVALID


def test_public_key_in_base64url_as_in_frame_keyrings_loads(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    url = base64.urlsafe_b64encode(bytes.fromhex(spki_hex(signer))).decode().rstrip("=")
    ring = MeterKeyring()
    ring.add(url)
    assert MeterVerifier(ring).verify_text(sign_payload(PAYLOAD, signer)).valid


def test_extend_merges_keyrings_and_keeps_bindings(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    other = MeterKeyring()
    other.add(signer.public_key(), name="w", meter="M-100")
    ring = MeterKeyring()
    ring.extend(other)
    (entry,) = list(ring)
    assert (entry.name, entry.meter) == ("w", "M-100")


def _pki_chain(meter_key, usages):
    from datetime import timedelta

    from cryptography.hazmat.primitives.serialization import Encoding

    from ocpp_e2e.pki import ChainValidator, create_root

    root = create_root(
        ec.generate_private_key(ec.SECP256R1()), "Meter Root", valid_for=timedelta(days=30), not_before=datetime.now(UTC).replace(microsecond=0)
    )
    leaf = root.issue(meter_key.public_key(), "meter-M-100", usages, valid_for=timedelta(days=10), not_before=datetime.now(UTC).replace(microsecond=0))
    chain = [c.public_bytes(Encoding.DER) for c in root.chain_for(leaf)]
    return chain, ChainValidator([root.certificate])


def test_meter_certificate_from_the_pki_makes_the_key_trusted(keys):
    signer = keys["ECDSA-secp256r1-SHA256"]
    chain, validator = _pki_chain(signer, ["meterSigning"])
    now = datetime.now(UTC)
    ring = MeterKeyring()
    entry = ring.add_certificate(chain, validator, at=now, now=now)
    assert entry.source == "certificate"
    assert MeterVerifier(ring).verify_text(sign_payload(PAYLOAD, signer)).valid


def test_pki_certificate_for_another_usage_is_refused(keys):
    chain, validator = _pki_chain(keys["ECDSA-secp256r1-SHA256"], ["tariffSigning"])
    now = datetime.now(UTC)
    with pytest.raises(KeyLoadError, match="lacks the usage meterSigning"):
        MeterKeyring().add_certificate(chain, validator, at=now, now=now)


def test_meter_certificates_without_trust_anchors_are_refused_not_trusted() -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    from ocpp_e2e.errors import KeyLoadError
    from ocpp_e2e.meter import load_meter_keyring

    chain = Path(__file__).resolve().parents[1] / "keys-example" / "meter-1.chain.pem"
    with pytest.raises(
        KeyLoadError, match=r"meter-1\.chain\.pem: a meter certificate needs trust anchors"
    ):
        load_meter_keyring(certificates=[chain], at=datetime.now(UTC))
