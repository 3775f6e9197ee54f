"""Ed25519 verification through libsodium (PyNaCl) where it is installed, else ``cryptography``.

libsodium verifies 1.4–1.7× faster than OpenSSL through ``cryptography``. Both compute the
same RFC 8032 equation [S]B = R + [k]A without the cofactor, and the verdicts are the same for
every signature value the caller passes on (``keys._verify_raw`` refuses S ≥ L first, and
``keys.load_spki`` refuses non-canonical and small-order keys), except one: libsodium also
refuses an R of small order, which RFC 8032 and OpenSSL accept when the equation holds (only the
key's owner can make such a signature). Signatures whose R encodes a point of small order (or
is not canonically encoded) therefore go to ``cryptography``, so that the backend never changes a
verdict (``tests/test_ed25519_backends.py`` shows each SPEC §4 case through both).

``OCPP_E2E_ED25519=cryptography`` in the environment, or :func:`use_backend`, selects
``cryptography`` even when PyNaCl is installed.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

_P = 2**255 - 19
_Y8 = int.from_bytes(
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), "little"
)
# y coordinates of the points of small order (orders 1, 2, 4, 8)
SMALL_ORDER_Y = frozenset({0, 1, _P - 1, _Y8, _P - _Y8})
_Y_MASK = (1 << 255) - 1

_HAVE_PYNACL = importlib.util.find_spec("nacl") is not None
#: The backends that can run here, best first.
AVAILABLE: tuple[str, ...] = ("libsodium", "cryptography") if _HAVE_PYNACL else ("cryptography",)
_backend = "cryptography" if os.environ.get("OCPP_E2E_ED25519") == "cryptography" else AVAILABLE[0]


class _Sodium(NamedTuple):
    open: Callable[[bytes, bytes], bytes]
    sign: Callable[[bytes, bytes], bytes]
    keypair: Callable[[bytes], tuple[bytes, bytes]]
    bad_signature: type[Exception]


@functools.cache
def _sodium() -> _Sodium:
    """PyNaCl's functions, imported on first use (the import costs a command-line start 20 ms)."""
    from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair
    from nacl.exceptions import BadSignatureError

    return _Sodium(crypto_sign_open, crypto_sign, crypto_sign_seed_keypair, BadSignatureError)


# Raw public key bytes by key object: libsodium takes the 32 bytes, cryptography a key object.
_RAW: dict[int, tuple[ed25519.Ed25519PublicKey, bytes | None]] = {}


def backend() -> str:
    """The backend in use: ``"libsodium"`` or ``"cryptography"``."""
    return _backend


def use_backend(name: str) -> None:
    """Select ``"libsodium"`` (needs PyNaCl) or ``"cryptography"`` for Ed25519 verification."""
    global _backend
    if name not in AVAILABLE:
        raise ValueError(
            f"Ed25519 backend {name!r} is not available here; choose one of {', '.join(AVAILABLE)}"
        )
    _backend = name


def _sodium_key(key: ed25519.Ed25519PublicKey) -> bytes | None:
    """The key's 32 bytes for libsodium, or None for a key libsodium would judge differently
    (not canonically encoded or of small order; ``keys.load_spki`` refuses those anyway)."""
    entry = _RAW.get(id(key))
    if entry is not None and entry[0] is key:
        return entry[1]
    raw: bytes | None = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw is not None
    y = int.from_bytes(raw, "little") & _Y_MASK
    if y >= _P or y in SMALL_ORDER_Y:
        raw = None
    if len(_RAW) >= 4096:
        _RAW.clear()
    _RAW[id(key)] = (key, raw)  # the key is kept alive, so its id is not reused meanwhile
    return raw


def verify(key: ed25519.Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """RFC 8032 verification of a 64-byte ``signature`` whose S the caller checked (< L)."""
    if _backend == "libsodium":
        y = int.from_bytes(signature[:32], "little") & _Y_MASK
        raw = _sodium_key(key)
        if raw is not None and y < _P and y not in SMALL_ORDER_Y:
            sodium = _sodium()
            try:
                sodium.open(signature + data, raw)
            except sodium.bad_signature:
                return False
            return True
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


_SECRETS: dict[int, tuple[ed25519.Ed25519PrivateKey, bytes]] = {}


def _sodium_secret(key: ed25519.Ed25519PrivateKey) -> bytes:
    """libsodium's 64-byte secret key for ``key``, kept per key object.

    The secret key then also lives in a Python ``bytes`` object, as a key read from a PEM file
    or an environment variable does.
    """
    entry = _SECRETS.get(id(key))
    if entry is not None and entry[0] is key:
        return entry[1]
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    secret = _sodium().keypair(seed)[1]
    if len(_SECRETS) >= 256:
        _SECRETS.clear()
    _SECRETS[id(key)] = (key, secret)
    return secret


# From about 8 KiB on, OpenSSL's SHA-512 (two passes over the message when signing) outruns
# libsodium's: a 30 KB message signs 1.2 times faster through ``cryptography``.
SODIUM_SIGN_LIMIT = 8192


def sign(key: ed25519.Ed25519PrivateKey, data: bytes) -> bytes:
    """Sign ``data`` through the backend in use. Ed25519 signatures are deterministic (RFC 8032):
    libsodium and OpenSSL produce the same bytes, libsodium about 1.2 times faster below
    :data:`SODIUM_SIGN_LIMIT` bytes, OpenSSL faster above."""
    if _backend == "libsodium" and len(data) < SODIUM_SIGN_LIMIT:
        return _sodium().sign(data, _sodium_secret(key))[:64]
    return key.sign(data)
