"""Keys (SPEC §1): generation, PEM files, key ids, strict SPKI, signers and keyrings."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ocpp_e2e._b64 import b64url_encode
from ocpp_e2e.errors import KeyLoadError
from ocpp_e2e.keys import (
    ALGORITHMS,
    Keyring,
    KeySigner,
    _verify_raw,
    algorithm_for,
    generate_private_key,
    key_id,
    load_private_key,
    load_public_key_file,
    load_public_key_text,
    load_signer,
    load_spki,
    public_key_to_pem,
    spki_der,
    write_private_key,
)

P256_SPKI_PREFIX_COMPRESSED = bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200")
# RFC 8032 small-order point: the identity element (y = 1), encoded little-endian.
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
SMALL_ORDER_ED25519 = ED25519_SPKI_PREFIX + (1).to_bytes(32, "little")


def compressed_p256_spki(key: ec.EllipticCurvePrivateKey) -> bytes:
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    return P256_SPKI_PREFIX_COMPRESSED + point


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_generated_key_has_its_algorithm(alg: str) -> None:
    assert algorithm_for(generate_private_key(alg)) == alg


def test_unknown_algorithm_cannot_be_generated() -> None:
    with pytest.raises(KeyLoadError, match="unknown algorithm 'RS256'"):
        generate_private_key("RS256")


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_key_id_is_base64url_sha256_of_the_spki(alg: str) -> None:
    key = generate_private_key(alg)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert key_id(spki_der(key)) == expected
    assert len(expected) == 43
    assert KeySigner(key).key_id == expected


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_signer_output_verifies_with_verify_raw(alg: str) -> None:
    key = generate_private_key(alg)
    signature = KeySigner(key).sign(b"data")
    assert len(signature) == ALGORITHMS[alg].signature_length
    assert _verify_raw(key.public_key(), alg, signature, b"data")
    assert not _verify_raw(key.public_key(), alg, signature, b"other")


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_private_key_pem_round_trip(tmp_path: Path, alg: str) -> None:
    key = generate_private_key(alg)
    path = tmp_path / "k.pem"
    write_private_key(path, key)
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert spki_der(load_private_key(path)) == spki_der(key)


def test_private_key_file_is_written_0600(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, generate_private_key())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_private_key_file_is_0600_even_when_it_existed_with_wider_rights(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_text("old")
    path.chmod(0o644)
    write_private_key(path, generate_private_key())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_encrypted_private_key_loads_with_its_password(tmp_path: Path) -> None:
    key = generate_private_key("ES384")
    path = tmp_path / "k.pem"
    write_private_key(path, key, b"s3cret")
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    assert spki_der(load_private_key(path, b"s3cret")) == spki_der(key)


def test_encrypted_private_key_with_a_wrong_password_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, generate_private_key(), b"s3cret")
    with pytest.raises(KeyLoadError, match=f"{path}: wrong password"):
        load_private_key(path, b"wrong")


def test_encrypted_private_key_without_a_password_asks_for_it(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, generate_private_key(), b"s3cret")
    with pytest.raises(KeyLoadError, match="encrypted; give its password"):
        load_private_key(path)


def test_plain_private_key_with_a_password_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, generate_private_key())
    with pytest.raises(KeyLoadError, match="not encrypted"):
        load_private_key(path, b"pw")


def test_public_key_given_as_private_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pub.pem"
    path.write_bytes(public_key_to_pem(generate_private_key()))
    with pytest.raises(KeyLoadError, match="public key or certificate, not a private key"):
        load_private_key(path)


def test_certificate_given_as_private_key_is_refused(keys_example: Path) -> None:
    with pytest.raises(KeyLoadError, match="public key or certificate, not a private key"):
        load_private_key(keys_example / "csms-operator.crt.pem")


def test_file_that_is_not_pem_is_refused_as_a_private_key(tmp_path: Path) -> None:
    path = tmp_path / "junk.pem"
    path.write_text("{}")
    with pytest.raises(KeyLoadError, match="not a PEM private key"):
        load_private_key(path)


def test_missing_private_key_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(KeyLoadError, match="cannot read key file"):
        load_private_key(tmp_path / "absent.pem")


def test_rsa_private_key_is_refused(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = tmp_path / "rsa.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyLoadError, match="unsupported key type"):
        load_private_key(path)


def test_unsupported_curve_private_key_is_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256K1())
    path = tmp_path / "k1.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyLoadError, match="unsupported curve secp256k1"):
        load_private_key(path)


def test_load_signer_from_file_uri_and_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_private_key("ES256")
    path = tmp_path / "k.pem"
    write_private_key(path, key)
    monkeypatch.setenv("OCPP_E2E_TEST_KEY", path.read_text())
    expected = KeySigner(key).key_id
    assert load_signer(f"file:{path}").key_id == expected
    assert load_signer(str(path)).key_id == expected
    assert load_signer("envvar:OCPP_E2E_TEST_KEY").key_id == expected


def test_load_signer_from_an_unset_env_var_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCPP_E2E_UNSET", raising=False)
    with pytest.raises(KeyLoadError, match="OCPP_E2E_UNSET is not set"):
        load_signer("envvar:OCPP_E2E_UNSET")


# --------------------------------------------------------------------------- strict SPKI


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_public_key_text_as_pem_or_base64url(alg: str) -> None:
    key = generate_private_key(alg)
    der = spki_der(key)
    assert load_public_key_text(public_key_to_pem(key).decode())[1] == der
    assert load_public_key_text(b64url_encode(der))[1] == der


def test_compressed_p256_key_is_refused() -> None:
    comp = compressed_p256_spki(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(KeyLoadError, match="compressed EC point"):
        load_spki(comp)
    with pytest.raises(KeyLoadError, match="compressed"):
        load_public_key_text(b64url_encode(comp))


def test_compressed_p256_key_in_a_keyring_is_refused() -> None:
    comp = compressed_p256_spki(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(KeyLoadError, match=r"keys\[0\]\.publicKey: .*compressed"):
        Keyring.from_entries([{"publicKey": b64url_encode(comp), "name": "x"}])
    with pytest.raises(KeyLoadError, match="compressed"):
        Keyring().add(comp)


def test_compressed_p256_key_as_pem_in_a_keyring_is_refused() -> None:
    comp = compressed_p256_spki(ec.generate_private_key(ec.SECP256R1()))
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        + base64.b64encode(comp).decode()
        + "\n-----END PUBLIC KEY-----\n"
    )
    with pytest.raises(KeyLoadError, match="compressed"):
        Keyring.from_entries([{"publicKey": pem, "name": "x"}])


def test_small_order_ed25519_key_is_refused() -> None:
    with pytest.raises(KeyLoadError, match="small order"):
        load_spki(SMALL_ORDER_ED25519)


def test_non_canonical_ed25519_point_encoding_is_refused() -> None:
    # y = p + 1 ≡ 1 (mod p) spelled with a value ≥ p.
    y = (2**255 - 19 + 1).to_bytes(32, "little")
    with pytest.raises(KeyLoadError):
        load_spki(ED25519_SPKI_PREFIX + y)


def test_spki_with_trailing_bytes_is_refused() -> None:
    with pytest.raises(KeyLoadError):
        load_spki(spki_der(generate_private_key()) + b"\x00")


def test_rsa_public_key_is_refused() -> None:
    der = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyLoadError, match="unsupported"):
        load_spki(der)


def test_garbage_is_not_a_public_key() -> None:
    with pytest.raises(KeyLoadError, match="neither PEM nor base64url"):
        load_public_key_text("not a key!")


def test_ed25519_verify_refuses_non_canonical_s() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    sig = key.sign(b"m")
    s = int.from_bytes(sig[32:], "little") + 2**252 + 27742317777372353535851937790883648493
    malleated = sig[:32] + s.to_bytes(32, "little")
    assert _verify_raw(key.public_key(), "Ed25519", sig, b"m")
    assert not _verify_raw(key.public_key(), "Ed25519", malleated, b"m")


def test_verify_raw_refuses_a_value_of_the_wrong_length() -> None:
    key = generate_private_key("ES256")
    sig = KeySigner(key).sign(b"m")
    assert not _verify_raw(key.public_key(), "ES256", sig + b"\x00", b"m")


# --------------------------------------------------------------------------- keyrings


def test_keyring_add_and_get() -> None:
    ring = Keyring()
    key = generate_private_key("ES512")
    info = ring.add(key.public_key(), name="ops-1", roles=["csms-admin"])
    assert info.key_id == KeySigner(key).key_id
    got = ring.get(info.key_id)
    assert got is not None and got.name == "ops-1" and got.roles == {"csms-admin"}
    assert info.key_id in ring and len(ring) == 1
    assert ring.get("unknown") is None


def test_keyring_entry_without_name_is_its_own_identity() -> None:
    ring = Keyring()
    info = ring.add(generate_private_key().public_key())
    assert info.identity == info.key_id


def test_same_key_twice_merges_roles() -> None:
    ring = Keyring()
    pub = generate_private_key().public_key()
    ring.add(pub, name="a", roles=["r1"])
    info = ring.add(pub, name="a", roles=["r2"])
    assert info.roles == {"r1", "r2"} and len(ring) == 1


def test_same_key_with_two_names_is_refused() -> None:
    ring = Keyring()
    pub = generate_private_key().public_key()
    ring.add(pub, name="a")
    with pytest.raises(KeyLoadError, match="listed twice with different names"):
        ring.add(pub, name="b")


def test_two_key_ids_of_one_identity() -> None:
    ring = Keyring()
    first = ring.add(generate_private_key().public_key(), name="ops-1")
    second = ring.add(generate_private_key("ES256").public_key(), name="ops-1")
    assert first.key_id != second.key_id
    assert first.identity == second.identity == "ops-1"


def test_keyring_from_the_example_keyring_json(keys_example: Path) -> None:
    ring = Keyring.load(keys_example / "keyring.json")
    doc = json.loads((keys_example / "keyring.json").read_text())
    assert len(ring) == len(doc["keys"])
    _pub, der = load_public_key_file(keys_example / "csms-operator.pub.pem")
    info = ring.get(key_id(der))
    assert info is not None and info.name == "ops-1"


def test_keyring_from_a_folder_names_keys_by_file_stem(tmp_path: Path) -> None:
    a, b = generate_private_key(), generate_private_key("ES384")
    (tmp_path / "alice.pem").write_bytes(public_key_to_pem(a))
    (tmp_path / "bob.pub").write_bytes(public_key_to_pem(b))
    (tmp_path / "bob.roles").write_text("csms-admin\n\nsecurity-officer\n")
    ring = Keyring.load(tmp_path)
    alice = ring.get(KeySigner(a).key_id)
    bob = ring.get(KeySigner(b).key_id)
    assert alice is not None and alice.name == "alice" and alice.roles == frozenset()
    assert bob is not None and bob.name == "bob" and bob.roles == {"csms-admin", "security-officer"}


def test_keyring_folder_with_a_private_key_is_refused(tmp_path: Path) -> None:
    write_private_key(tmp_path / "oops.pem", generate_private_key())
    with pytest.raises(KeyLoadError, match=r"oops\.pem: this is a private key"):
        Keyring.load(tmp_path)


def test_empty_keyring_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyLoadError, match=re.escape("no *.pem or *.pub")):
        Keyring.load(tmp_path)


def test_single_pem_file_is_a_keyring(tmp_path: Path) -> None:
    key = generate_private_key()
    path = tmp_path / "ops.pem"
    path.write_bytes(public_key_to_pem(key))
    info = Keyring.load(path).get(KeySigner(key).key_id)
    assert info is not None and info.name == "ops"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[1, 2", "not a keyring"),
        ("[]", re.escape('a keyring file is a JSON object {"keys": [...]}')),
        ('{"keys": [{"publicKey": "x", "color": "red"}]}', r"keys\[0\]: unknown member\(s\) color"),
        ('{"keys": [{"name": "x"}]}', r"keys\[0\]\.publicKey: required"),
        (
            '{"keys": [{"publicKey": "AAAA", "roles": "admin"}]}',
            r"keys\[0\]\.roles: must be a list",
        ),
    ],
)
def test_bad_keyring_file_names_the_file_and_the_problem(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "ring.json"
    path.write_text(content)
    with pytest.raises(KeyLoadError, match=reason) as info:
        Keyring.load(path)
    assert str(path) in str(info.value)


def test_missing_keyring_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(KeyLoadError, match="cannot read keyring"):
        Keyring.load(tmp_path / "absent.json")


def test_keyring_file_with_a_duplicate_member_is_refused(tmp_path: Path) -> None:
    from ocpp_e2e.keys import Keyring, generate_private_key, public_key_to_pem

    pem = public_key_to_pem(generate_private_key()).decode()
    key = json.dumps(pem)
    text = '{"keys": [{"publicKey": ' + key + ', "name": "ops-1", "name": "ops-2"}]}'
    path = tmp_path / "ring.json"
    path.write_text(text)
    with pytest.raises(KeyLoadError, match="duplicate member"):
        Keyring.load(path)
