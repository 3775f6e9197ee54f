"""ESP recipient keys (docs/esp.md §9.2): encodings, key ids, files and keyrings."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from ocpp_e2e._b64 import b64url_encode
from ocpp_e2e.errors import KeyLoadError
from ocpp_e2e.esp import (
    EspKeyring,
    EspKeyType,
    esp_private_key_to_pem,
    generate_esp_key,
    load_esp_private_key,
    load_esp_private_pem,
    load_esp_public_spki,
    load_esp_public_text,
    write_esp_private_key,
)
from ocpp_e2e.esp.keys import _hybrid_from_seed
from ocpp_e2e.keys import generate_private_key, key_id, spki_der

# draft-connolly-cfrg-xwing-kem-08, Appendix C, first test vector: the seed and the SHA-256 of the
# 1216-byte public key it expands to (pk_M || pk_X).
XWING_SEED = bytes.fromhex("7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26")
XWING_PK_SHA256 = "2e816deebcd76c5c80d0cd2d174478871658e8e2ff42bc9d4a6e486372e856bb"
XWING_PK_HEAD = "e2236b35a8c24b39b10aa1323a96a919"


def test_hybrid_keys_expand_their_seed_as_the_x_wing_draft_says() -> None:
    key = _hybrid_from_seed(XWING_SEED)
    raw = key.public.spki[24:]
    assert len(raw) == 1216
    assert raw.hex().startswith(XWING_PK_HEAD)
    assert hashlib.sha256(raw).hexdigest() == XWING_PK_SHA256


def test_x25519_spki_is_rfc_8410_and_the_key_id_is_spec_1s() -> None:
    key = generate_esp_key("X25519")
    der = key.public.hpke_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key.public.spki == der
    assert key.key_id == key_id(der)


def test_hybrid_spki_names_id_xwing() -> None:
    key = generate_esp_key("ML-KEM-768+X25519")
    assert key.public.spki[6:19] == bytes.fromhex("060b2b0601040183e62d81c87a")
    assert len(key.public.spki) == 1240
    assert key.type is EspKeyType.HYBRID


@pytest.mark.parametrize("kind", ["X25519", "ML-KEM-768+X25519"])
def test_private_key_pem_round_trip(kind: str) -> None:
    key = generate_esp_key(kind)
    again = load_esp_private_pem(esp_private_key_to_pem(key))
    assert again.public == key.public


def test_x25519_private_key_may_be_password_encrypted() -> None:
    key = generate_esp_key("X25519")
    pem = esp_private_key_to_pem(key, b"secret")
    assert load_esp_private_pem(pem, b"secret").public == key.public
    with pytest.raises(KeyLoadError, match="give its password"):
        load_esp_private_pem(pem)
    with pytest.raises(KeyLoadError, match="wrong password"):
        load_esp_private_pem(pem, b"other")


def test_hybrid_private_key_refuses_a_password_instead_of_writing_it_clear() -> None:
    with pytest.raises(KeyLoadError, match="cannot be password-encrypted"):
        esp_private_key_to_pem(generate_esp_key("ML-KEM-768+X25519"), b"secret")


def test_private_key_file_is_written_0600_and_read_back(tmp_path: Path) -> None:
    key = generate_esp_key("ML-KEM-768+X25519")
    path = tmp_path / "station.esp.pem"
    write_esp_private_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_esp_private_key(path).public == key.public


def test_a_signing_key_is_not_a_recipient_key() -> None:
    from ocpp_e2e.keys import private_key_to_pem

    pem = private_key_to_pem(generate_private_key("Ed25519"))
    with pytest.raises(KeyLoadError, match="signing keys never decrypt"):
        load_esp_private_pem(pem, source="ops.pem")


def test_a_public_key_is_not_a_private_key() -> None:
    with pytest.raises(KeyLoadError, match="public key or certificate"):
        load_esp_private_pem(generate_esp_key().public.to_pem())


def test_a_missing_private_key_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(KeyLoadError, match=r"nope\.pem: cannot read"):
        load_esp_private_key(tmp_path / "nope.pem")


@pytest.mark.parametrize(
    "der",
    [
        b"",
        b"junk",
        spki_der(generate_private_key("Ed25519")),
        bytes.fromhex("302a300506032b656e032100") + b"\x00" * 31,
        generate_esp_key("ML-KEM-768+X25519").public.spki[:-1],
        generate_esp_key("X25519").public.spki + b"\x00",
    ],
    ids=["empty", "junk", "ed25519", "short-x25519", "short-hybrid", "trailing-byte"],
)
def test_spki_that_is_not_exactly_a_recipient_key_is_refused(der: bytes) -> None:
    with pytest.raises(KeyLoadError, match="not an ESP recipient key"):
        load_esp_public_spki(der)


def test_public_key_text_as_pem_or_base64url() -> None:
    key = generate_esp_key("ML-KEM-768+X25519").public
    assert load_esp_public_text(key.to_pem().decode()) == key
    assert load_esp_public_text(b64url_encode(key.spki)) == key
    with pytest.raises(KeyLoadError, match="neither PEM nor base64url"):
        load_esp_public_text("not/a/key=")


def test_keyring_from_json_and_lookup_by_identity(tmp_path: Path) -> None:
    a, b = generate_esp_key().public, generate_esp_key("ML-KEM-768+X25519").public
    path = tmp_path / "esp-keys.json"
    path.write_text(
        json.dumps(
            {
                "keys": [
                    {"publicKey": a.to_pem().decode(), "name": "CS-1"},
                    {"publicKey": b64url_encode(b.spki), "name": "csms"},
                ]
            }
        )
    )
    ring = EspKeyring.load(path)
    assert len(ring) == 2 and a.key_id in ring
    assert ring.for_identity("cs-1") == [a]


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"keys": [{"publicKey": "x", "roles": []}]}, "unknown member"),
        ({"keys": [{"name": "a"}]}, "publicKey: required"),
        ({"keys": [], "extra": 1}, "JSON object"),
        ({"keys": [{"publicKey": "AAAA"}]}, r"keys\[0\]\.publicKey"),
    ],
)
def test_keyring_errors_name_the_entry(tmp_path: Path, doc: object, reason: str) -> None:
    path = tmp_path / "ring.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyLoadError, match=reason):
        EspKeyring.load(path)


def test_keyring_folder_refuses_a_private_key(tmp_path: Path) -> None:
    (tmp_path / "cs-1.pem").write_bytes(generate_esp_key().public.to_pem())
    assert EspKeyring.load(tmp_path).for_identity("cs-1")
    write_esp_private_key(tmp_path / "oops.pem", generate_esp_key())
    with pytest.raises(KeyLoadError, match=r"oops\.pem: this is a private key"):
        EspKeyring.load(tmp_path)


def test_keyring_refuses_one_key_under_two_names() -> None:
    key = generate_esp_key().public
    ring = EspKeyring()
    ring.add(key, name="a")
    with pytest.raises(KeyLoadError, match="different names"):
        ring.add(key, name="b")


def test_unknown_key_type_is_refused() -> None:
    with pytest.raises(KeyLoadError, match="unknown ESP key type"):
        generate_esp_key("X448")


def test_x25519_pem_from_other_tools_loads() -> None:
    other = x25519.X25519PrivateKey.generate()
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert load_esp_private_pem(pem).public.hpke_key.public_bytes_raw() == (
        other.public_key().public_bytes_raw()
    )
