"""SPEC §4 Ed25519 edge cases get the same verdict through libsodium (PyNaCl) and cryptography.

The signatures below are made with the private scalar directly (RFC 8032 §5.1.6 arithmetic), so
that values no ordinary signer produces — an R of small order, an R not canonically encoded, an S
beyond the group order — can be checked through both backends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from ocpp_e2e import _ed25519
from ocpp_e2e.errors import KeyLoadError
from ocpp_e2e.keys import _verify_raw, load_spki, spki_der

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
SEED = bytes(range(32))
MESSAGE = b'{"context":{"kind":"request"},"payload":{}}'
IDENTITY = (1).to_bytes(32, "little")  # the neutral point, of order 1
IDENTITY_NON_CANONICAL = (P + 1).to_bytes(32, "little")  # y = p + 1 reads as y = 1
ORDER_2 = (P - 1).to_bytes(32, "little")


@pytest.fixture(params=["libsodium", "cryptography"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    before = _ed25519.backend()
    _ed25519.use_backend(request.param)
    yield request.param
    _ed25519.use_backend(before)


def private() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(SEED)


def raw_public() -> bytes:
    return (
        private()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def scalar() -> int:
    h = hashlib.sha512(SEED).digest()
    a = int.from_bytes(h[:32], "little")
    return (a & ((1 << 254) - 8)) | (1 << 254)


def sign_with_r(r_encoding: bytes, message: bytes = MESSAGE) -> bytes:
    """A signature with the given R (a point of small order: then S = k·a satisfies the equation)."""
    k = int.from_bytes(hashlib.sha512(r_encoding + raw_public() + message).digest(), "little") % L
    return r_encoding + ((k * scalar()) % L).to_bytes(32, "little")


def test_libsodium_is_the_default_backend_when_pynacl_is_installed() -> None:
    assert _ed25519.AVAILABLE == ("libsodium", "cryptography")


def test_an_ordinary_signature_is_valid(backend: str) -> None:
    key = private()
    assert _verify_raw(key.public_key(), "Ed25519", key.sign(MESSAGE), MESSAGE) is True


def test_a_changed_message_is_invalid(backend: str) -> None:
    key = private()
    assert _verify_raw(key.public_key(), "Ed25519", key.sign(MESSAGE), MESSAGE + b" ") is False


def test_a_changed_signature_is_invalid(backend: str) -> None:
    key = private()
    sig = bytearray(key.sign(MESSAGE))
    sig[5] ^= 1
    assert _verify_raw(key.public_key(), "Ed25519", bytes(sig), MESSAGE) is False


def test_non_canonical_s_is_invalid(backend: str) -> None:
    key = private()
    sig = key.sign(MESSAGE)
    s_plus_l = (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")
    assert _verify_raw(key.public_key(), "Ed25519", sig[:32] + s_plus_l, MESSAGE) is False
    # Below the caller's check too, the backend refuses it.
    assert _ed25519.verify(key.public_key(), sig[:32] + s_plus_l, MESSAGE) is False


def test_small_order_r_is_valid_per_rfc_8032_through_both_backends(backend: str) -> None:
    # RFC 8032 (and OpenSSL) accept an R of small order when the equation holds; libsodium alone
    # would refuse it, so such signatures never reach libsodium.
    sig = sign_with_r(IDENTITY)
    with pytest.raises(BadSignatureError):
        crypto_sign_open(sig + MESSAGE, raw_public())
    assert _verify_raw(private().public_key(), "Ed25519", sig, MESSAGE) is True
    assert _verify_raw(private().public_key(), "Ed25519", sig, MESSAGE + b"x") is False


def test_small_order_r_of_order_two_gets_the_same_verdict(backend: str) -> None:
    sig = sign_with_r(ORDER_2)
    ours = _verify_raw(private().public_key(), "Ed25519", sig, MESSAGE)
    try:
        private().public_key().verify(sig, MESSAGE)
        reference = True
    except Exception:
        reference = False
    assert ours is reference


def test_non_canonical_r_is_invalid(backend: str) -> None:
    sig = sign_with_r(IDENTITY_NON_CANONICAL)
    assert _verify_raw(private().public_key(), "Ed25519", sig, MESSAGE) is False


@pytest.mark.parametrize("y", [0, 1, P - 1])
def test_small_order_keys_are_refused_when_loaded(y: int) -> None:
    key = ed25519.Ed25519PublicKey.from_public_bytes(y.to_bytes(32, "little"))
    with pytest.raises(KeyLoadError, match="small order"):
        load_spki(spki_der(key))


@pytest.mark.parametrize("y", [0, 1, P - 1])
def test_small_order_key_objects_get_the_same_verdict_from_both_backends(
    backend: str, y: int
) -> None:
    # S = 0 and R = the neutral point satisfy the equation for the neutral key and any message.
    key = ed25519.Ed25519PublicKey.from_public_bytes(y.to_bytes(32, "little"))
    sig = IDENTITY + bytes(32)
    try:
        key.verify(sig, MESSAGE)
        reference = True
    except Exception:
        reference = False
    assert _ed25519.verify(key, sig, MESSAGE) is reference


def test_non_canonical_keys_are_refused_when_loaded() -> None:
    key = ed25519.Ed25519PublicKey.from_public_bytes((P + 1).to_bytes(32, "little"))
    with pytest.raises(KeyLoadError, match="canonical"):
        load_spki(spki_der(key))


def test_non_canonical_key_objects_get_the_same_verdict_from_both_backends(backend: str) -> None:
    key = ed25519.Ed25519PublicKey.from_public_bytes((P + 1).to_bytes(32, "little"))
    sig = IDENTITY + bytes(32)
    try:
        key.verify(sig, MESSAGE)
        reference = True
    except Exception:
        reference = False
    assert _ed25519.verify(key, sig, MESSAGE) is reference


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="not available"):
        _ed25519.use_backend("openssl3")


def test_both_backends_sign_alike(backend: str) -> None:
    from ocpp_e2e.keys import KeySigner

    signer = KeySigner(private())
    # RFC 8032 signatures are deterministic: the same bytes whichever library makes them.
    assert signer.sign(MESSAGE) == private().sign(MESSAGE)
    assert signer.sign(b"x" * 5000) == private().sign(b"x" * 5000)
    # Above the limit the libsodium backend signs through cryptography: the same bytes again.
    for size in (_ed25519.SODIUM_SIGN_LIMIT - 1, _ed25519.SODIUM_SIGN_LIMIT, 30_000):
        assert signer.sign(b"y" * size) == private().sign(b"y" * size)
