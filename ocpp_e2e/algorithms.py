"""SPEC §1 signature algorithms as one table: a new algorithm is one row here plus its tests.

Each row knows its key types, the raw signature length, how to generate a key, sign, verify and
whether X.509 tooling can certify its keys (SPEC §5). Keys, verification, the PKI and the CLI ask
this table; nothing else branches on an algorithm's name.

>>> ALGORITHMS["ES384"].signature_length, ALGORITHMS["ML-DSA-65"].signature_length
(96, 3309)
>>> key = ALGORITHMS["ML-DSA-65"].generate()
>>> row = algorithm_of(key)
>>> row.name, row.certificates
('ML-DSA-65', False)
>>> row.verify(key.public_key(), row.sign(key, b"data"), b"data")
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509 import ObjectIdentifier
from cryptography.x509.oid import SignatureAlgorithmOID as _OID

from . import _ed25519
from .errors import KeyLoadError

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "PrivateKey",
    "PublicKey",
    "algorithm_of",
    "public_key_of",
]

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | mldsa.MLDSA65PrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | mldsa.MLDSA65PublicKey

# Ed25519 (RFC 8032): the field prime p and the group order L.
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493


@dataclass(frozen=True)
class Algorithm:
    """One SPEC §1 algorithm. Subclasses implement the three cryptographic operations."""

    #: The SPEC name, as in a signature's ``algorithm`` member.
    name: str
    #: Length of the raw signature value (SPEC §1).
    signature_length: int
    #: The X.509 signature algorithm of certificates and CRLs such keys sign; None while X.509
    #: tooling cannot certify such keys (SPEC §1, §5).
    x509_oid: ObjectIdentifier | None
    #: The hash of ECDSA signatures (JWS and X.509 alike); None for algorithms that need none.
    hash: type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512] | None = None

    @property
    def certificates(self) -> bool:
        """Whether certificates may carry such keys and be signed by them (SPEC §5)."""
        return self.x509_oid is not None

    def fits(self, key: object) -> bool:
        """Whether ``key`` (public or private) is a key of this algorithm."""
        raise NotImplementedError

    def generate(self) -> PrivateKey:
        """A new private key."""
        raise NotImplementedError

    def sign(self, key: PrivateKey, data: bytes) -> bytes:
        """The raw SPEC §1 signature value over ``data``; ``key`` must fit this algorithm."""
        raise NotImplementedError

    def _verify(self, key: PublicKey, signature: bytes, data: bytes) -> None:
        raise NotImplementedError

    def verify(self, key: PublicKey, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is a valid raw value over ``data``; never raises for bad input."""
        if len(signature) != self.signature_length or not self.fits(key):
            return False
        try:
            self._verify(key, signature, data)
        except InvalidSignature:
            return False
        return True

    def check_public(self, key: PublicKey) -> None:
        """Refuse (:class:`KeyLoadError`) a public key the SPEC does not let sign."""

    def x509_signature(self, raw: bytes) -> bytes:
        """The raw value as X.509 and CRLs encode it (ECDSA: DER ``r``, ``s``)."""
        return raw


@dataclass(frozen=True)
class _EdDSA(Algorithm):
    def fits(self, key: object) -> bool:
        return isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey)

    def generate(self) -> PrivateKey:
        return ed25519.Ed25519PrivateKey.generate()

    def sign(self, key: PrivateKey, data: bytes) -> bytes:
        assert isinstance(key, ed25519.Ed25519PrivateKey)
        return _ed25519.sign(key, data)

    def _verify(self, key: PublicKey, signature: bytes, data: bytes) -> None:
        key = cast(ed25519.Ed25519PublicKey, key)  # verify() checked that it fits
        # RFC 8032 §5.1.7: S must be below the group order (no malleable encodings).
        if int.from_bytes(signature[32:], "little") >= _L or not _ed25519.verify(
            key, signature, data
        ):
            raise InvalidSignature

    def check_public(self, key: PublicKey) -> None:
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
        if y >= _P:
            raise KeyLoadError("Ed25519 public key is not canonically encoded")
        # A key of small order lets anyone make signatures that verify for many messages.
        if y in _ed25519.SMALL_ORDER_Y:
            raise KeyLoadError("Ed25519 public key is a point of small order")


@dataclass(frozen=True)
class _ECDSA(Algorithm):
    curve: type[ec.EllipticCurve] = ec.SECP256R1

    def fits(self, key: object) -> bool:
        return (
            isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey)
            and key.curve.name == self.curve().name
        )

    def generate(self) -> PrivateKey:
        return ec.generate_private_key(self.curve())

    def sign(self, key: PrivateKey, data: bytes) -> bytes:
        assert isinstance(key, ec.EllipticCurvePrivateKey) and self.hash is not None
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(self.hash())))
        half = self.signature_length // 2
        return r.to_bytes(half, "big") + s.to_bytes(half, "big")

    def _verify(self, key: PublicKey, signature: bytes, data: bytes) -> None:
        assert isinstance(key, ec.EllipticCurvePublicKey) and self.hash is not None
        key.verify(self.x509_signature(signature), data, ec.ECDSA(self.hash()))

    def x509_signature(self, raw: bytes) -> bytes:
        half = self.signature_length // 2
        return encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )


@dataclass(frozen=True)
class _MLDSA65(Algorithm):
    """FIPS 204 ML-DSA-65, pure, with the empty context string (SPEC §1)."""

    def fits(self, key: object) -> bool:
        return isinstance(key, mldsa.MLDSA65PublicKey | mldsa.MLDSA65PrivateKey)

    def generate(self) -> PrivateKey:
        return mldsa.MLDSA65PrivateKey.generate()

    def sign(self, key: PrivateKey, data: bytes) -> bytes:
        assert isinstance(key, mldsa.MLDSA65PrivateKey)
        return key.sign(data)

    def _verify(self, key: PublicKey, signature: bytes, data: bytes) -> None:
        assert isinstance(key, mldsa.MLDSA65PublicKey)
        key.verify(signature, data)


#: SPEC §1 algorithms by name, in the order the SPEC lists them.
ALGORITHMS: Mapping[str, Algorithm] = {
    a.name: a
    for a in (
        _EdDSA("Ed25519", 64, _OID.ED25519),
        _ECDSA("ES256", 64, _OID.ECDSA_WITH_SHA256, hashes.SHA256, ec.SECP256R1),
        _ECDSA("ES384", 96, _OID.ECDSA_WITH_SHA384, hashes.SHA384, ec.SECP384R1),
        _ECDSA("ES512", 132, _OID.ECDSA_WITH_SHA512, hashes.SHA512, ec.SECP521R1),
        # No X.509 tooling here certifies ML-DSA keys yet: keyrings only (SPEC §1).
        _MLDSA65("ML-DSA-65", 3309, None),
    )
}


def algorithm_of(key: object) -> Algorithm:
    """The row whose key type ``key`` (public or private) is; :class:`KeyLoadError` for others."""
    for row in ALGORITHMS.values():
        if row.fits(key):
            return row
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        what = f"curve {key.curve.name}"
    else:
        what = f"key type {type(key).__name__}"
    raise KeyLoadError(f"unsupported {what} (use a key of {', '.join(ALGORITHMS)})")


def public_key_of(key: PublicKey | PrivateKey) -> PublicKey:
    """The public half of a key (a public key is returned as it is)."""
    if isinstance(key, PrivateKey):
        return key.public_key()
    return key
