"""Verification on secp192k1, the one OCMF Table 22 curve the ``cryptography`` package lacks.

Meters sign under ``ECDSA-secp192k1-SHA256`` (HTB's records in the S.A.F.E. fixtures), and the
reference verifiers accept them, so this module makes such keys first-class
:class:`~cryptography.hazmat.primitives.asymmetric.ec.EllipticCurvePublicKey` objects whose
``verify`` runs on the pure-Python ``ecdsa`` package (verification only: no secret is handled, so
its lack of constant-time arithmetic does not matter). Curve parameters: SEC 2 version 2.0,
section 2.2.1 "Recommended Parameters secp192k1"; object identifier 1.3.132.0.31.

>>> key = load_spki(bytes.fromhex(_SPKI_PREFIX.hex() + "04" + _G_HEX))
>>> key.curve.name, key.key_size
('secp192k1', 192)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import ecdsa  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from ecdsa.curves import Curve  # type: ignore[import-untyped]
from ecdsa.ellipticcurve import CurveFp, PointJacobi  # type: ignore[import-untyped]
from ecdsa.util import sigdecode_der  # type: ignore[import-untyped]

_P = int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFEE37", 16)
_N = int("FFFFFFFFFFFFFFFFFFFFFFFE26F2FC170F69466A74DEFD8D", 16)
_G_HEX = (
    "DB4FF10EC057E9AE26B07D0280B7F4341DA5D1B1EAE06C7D"
    "9B2F2F6D9C5628A7844163D015BE86344082AA88D95E2F9D"
)
_CURVE_FP = CurveFp(_P, 0, 3, 1)
_GENERATOR = PointJacobi(
    _CURVE_FP, int(_G_HEX[:48], 16), int(_G_HEX[48:], 16), 1, _N, generator=True
)
_ECDSA_CURVE = Curve("SECP192k1", _CURVE_FP, _GENERATOR, (1, 3, 132, 0, 31))
# SubjectPublicKeyInfo DER up to the point: SEQUENCE { SEQUENCE { id-ecPublicKey, secp192k1 },
# BIT STRING (50 bytes, no unused bits) }; the point follows as 04 || X || Y (49 bytes).
_SPKI_PREFIX = bytes.fromhex("3046301006072a8648ce3d020106052b8104001f033200")
_POINT_SIZE = 49


class SECP192K1(ec.EllipticCurve):
    """SEC 2 secp192k1 (for naming and sizes; the arithmetic is the ``ecdsa`` package's)."""

    @property
    def name(self) -> str:
        return "secp192k1"

    @property
    def key_size(self) -> int:
        return 192

    @property
    def group_order(self) -> int:
        return _N


class Secp192k1PublicKey(ec.EllipticCurvePublicKey):
    """A secp192k1 public key that verifies ECDSA with SHA-256 (all OCMF asks of it)."""

    def __init__(self, point: bytes) -> None:
        if len(point) != _POINT_SIZE or point[0] != 4:
            raise ValueError("a secp192k1 point is 04 || X || Y (49 bytes)")
        try:
            self._vk = ecdsa.VerifyingKey.from_string(
                point, curve=_ECDSA_CURVE, hashfunc=hashlib.sha256
            )
        except (ecdsa.errors.MalformedPointError, ValueError, AssertionError) as exc:
            raise ValueError(f"not a point of secp192k1 ({exc})") from exc
        self._point = point

    @property
    def curve(self) -> ec.EllipticCurve:
        return SECP192K1()

    @property
    def key_size(self) -> int:
        return 192

    def public_numbers(self) -> ec.EllipticCurvePublicNumbers:
        x = int.from_bytes(self._point[1:25], "big")
        y = int.from_bytes(self._point[25:], "big")
        return ec.EllipticCurvePublicNumbers(x, y, SECP192K1())

    def public_bytes(
        self, encoding: serialization.Encoding, format: serialization.PublicFormat
    ) -> bytes:
        if format is serialization.PublicFormat.UncompressedPoint:
            return self._point
        if format is not serialization.PublicFormat.SubjectPublicKeyInfo:
            raise ValueError(f"{format} is not available for secp192k1 keys")
        der = _SPKI_PREFIX + self._point
        if encoding is serialization.Encoding.DER:
            return der
        if encoding is serialization.Encoding.PEM:
            body = base64.encodebytes(der).decode("ascii")
            return f"-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n".encode()
        raise ValueError(f"{encoding} is not available for secp192k1 keys")

    def verify(
        self,
        signature: bytes | bytearray | memoryview,
        data: bytes | bytearray | memoryview,
        signature_algorithm: ec.EllipticCurveSignatureAlgorithm,
    ) -> None:
        algorithm = signature_algorithm.algorithm
        if isinstance(algorithm, Prehashed) or not isinstance(algorithm, hashes.SHA256):
            raise InvalidSignature("secp192k1 keys verify ECDSA with SHA-256 only (OCMF)")
        try:
            ok = self._vk.verify(
                bytes(signature), bytes(data), hashfunc=hashlib.sha256, sigdecode=sigdecode_der
            )
        except (ecdsa.BadSignatureError, ecdsa.der.UnexpectedDER, ValueError, AssertionError):
            ok = False
        if not ok:
            raise InvalidSignature

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secp192k1PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)

    def __copy__(self) -> Secp192k1PublicKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secp192k1PublicKey:
        return self


def load_spki(der: bytes) -> Secp192k1PublicKey | None:
    """The key of a secp192k1 SubjectPublicKeyInfo DER, or None when ``der`` is not one."""
    if not der.startswith(_SPKI_PREFIX) or len(der) != len(_SPKI_PREFIX) + _POINT_SIZE:
        return None
    try:
        return Secp192k1PublicKey(der[len(_SPKI_PREFIX) :])
    except ValueError:
        return None


def load_pem(pem: bytes) -> Secp192k1PublicKey | None:
    """The key of a PEM ``PUBLIC KEY`` holding a secp192k1 SubjectPublicKeyInfo, or None."""
    lines = pem.strip().splitlines()
    if len(lines) < 3 or lines[0] != b"-----BEGIN PUBLIC KEY-----":
        return None
    if lines[-1] != b"-----END PUBLIC KEY-----":
        return None
    try:
        der = base64.b64decode(b"".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        return None
    return load_spki(der)


def from_point(point: bytes) -> Secp192k1PublicKey | None:
    """The key of a bare point (04 || X || Y), or None when it is not on secp192k1."""
    try:
        return Secp192k1PublicKey(point)
    except ValueError:
        return None
