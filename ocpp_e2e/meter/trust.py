"""Trusted meter keys: which public keys may sign meter readings, and for which meter.

Meter keys are ECDSA keys on any curve of the OCMF algorithm table (secp256k1, brainpool, ...),
which :func:`ocpp_e2e.keys.load_spki` deliberately refuses for SPEC signatures; so meter trust is
kept here, apart from the frame keyring. A :class:`MeterKeyring` is built from an
:class:`ocpp_e2e.keys.Keyring`, from key files, or from certificates whose effective usages include
``meterSigning`` (SPEC §5), validated by any :class:`ocpp_e2e.model.CertificateValidator`.

OCMF itself says the public key must reach the verifier out of band ("Relation of Serial Numbers,
Charge Point and Public Key"); a key that came with the reading is never trusted by this module.

>>> from cryptography.hazmat.primitives.asymmetric import ec
>>> ring = MeterKeyring()
>>> entry = ring.add(ec.generate_private_key(ec.BrainpoolP256R1()).public_key(), name="meter-7")
>>> entry.algorithm
'ECDSA-brainpool256r1-SHA256'
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .._b64 import Base64Error, pem_one
from ..errors import KeyLoadError, OcppE2EError
from ..keys import Keyring, _keyring_document, _keyring_entries, key_id
from ..model import CertificateValidator
from ..pki.issue import load_certificates_file
from . import _secp192k1
from .algorithms import CURVE_ALGORITHM

__all__ = [
    "METER_USAGE",
    "MeterKey",
    "MeterKeyring",
    "decode_public_key",
    "load_meter_keyring",
    "meter_key_id",
]

#: The SPEC §5 usage a certificate needs for its key to be trusted for meter readings.
METER_USAGE = "meterSigning"

_WS = re.compile(r"\s+")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_B64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


@dataclass(frozen=True)
class MeterKey:
    """A trusted meter public key.

    ``meter`` and ``gateway``, when set, bind the key to one meter serial (``MS``) and gateway
    serial (``GS``): the key then verifies only records of that meter. ``source`` says where the
    trust came from (``keyring``, ``file``, ``certificate``).
    """

    key_id: str
    key: ec.EllipticCurvePublicKey
    spki_der: bytes
    algorithm: str
    name: str | None = None
    meter: str | None = None
    gateway: str | None = None
    source: str = "keyring"

    @property
    def identity(self) -> str:
        """The name, or the key id for a nameless key."""
        return self.name if self.name is not None else self.key_id

    def covers(self, meter_serial: str | None, gateway_serial: str | None) -> bool:
        """True when this key may sign records of that meter (unbound keys cover every meter).

        A record without ``MS`` (FV 1.0 meters such as KEBA's) names its meter by ``GS`` alone,
        so a key bound to a meter serial covers it when that serial is its ``GS``.
        """
        serial = meter_serial if meter_serial is not None else gateway_serial
        if self.meter is not None and self.meter != serial:
            return False
        return self.gateway is None or self.gateway == gateway_serial


def decode_public_key(text: str | bytes, *, where: str = "public key") -> ec.EllipticCurvePublicKey:
    """Load a meter public key: PEM, or SubjectPublicKeyInfo DER as raw bytes, hex or base64.

    Whitespace anywhere in hex or base64 text is ignored (keys are often pasted from labels and
    PDFs with line breaks). The key must be on a curve of the OCMF algorithm table.

    >>> decode_public_key("30 59 30").curve  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    KeyLoadError: public key: not a SubjectPublicKeyInfo
    """
    if isinstance(text, bytes):
        if text.lstrip().startswith(b"-----BEGIN"):
            return _check(_load(text, pem=True, where=where), where)
        # DER starts with the byte 0x30 (a SEQUENCE); hex text starts with "3", base64 with "M".
        if text[:1] == b"\x30":
            return _check(_load(text, pem=False, where=where), where)
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError as exc:
            raise KeyLoadError(f"{where}: neither PEM nor DER nor hex/base64 text") from exc
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        return _check(_load(stripped.encode("ascii", "replace"), pem=True, where=where), where)
    compact = _WS.sub("", stripped)
    if not compact:
        raise KeyLoadError(f"{where}: empty")
    if _HEX.fullmatch(compact):
        # A SubjectPublicKeyInfo starts with 0x30; in base64 that is "M", never a hex digit, so
        # a string of hex digits is hex and not base64.
        der = bytes.fromhex(compact)
    elif _B64.fullmatch(compact):
        std = compact.replace("-", "+").replace("_", "/")
        try:
            der = base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
        except binascii.Error as exc:
            raise KeyLoadError(f"{where}: neither hex nor base64 ({exc})") from exc
    else:
        raise KeyLoadError(f"{where}: neither PEM nor hex nor base64 SubjectPublicKeyInfo DER")
    if der[:1] != b"\x30":
        return _raw_point(der, where)
    return _check(_load(der, pem=False, where=where), where)


def _raw_point(data: bytes, where: str) -> ec.EllipticCurvePublicKey:
    # Isabellenhuette publishes the bare point X||Y (no 0x04, no SubjectPublicKeyInfo). Its curve
    # is the one table curve the point lies on: a point of one curve is, but for negligible
    # chance, on no other, and a point on two would be refused rather than guessed.
    point = data if data[:1] == b"\x04" and len(data) % 2 == 1 else b"\x04" + data
    size = (len(point) - 1) // 2
    found: list[ec.EllipticCurvePublicKey] = []
    for alg in CURVE_ALGORITHM.values():
        assert alg.curve is not None  # CURVE_ALGORITHM holds only curves with a class
        curve = alg.curve()
        if (curve.key_size + 7) // 8 != size:
            continue
        if alg.pure:
            pure = _secp192k1.from_point(point)
            if pure is not None:
                found.append(pure)
            continue
        try:
            found.append(ec.EllipticCurvePublicKey.from_encoded_point(curve, point))
        except (ValueError, UnsupportedAlgorithm):
            continue
    if len(found) != 1:
        raise KeyLoadError(
            f"{where}: neither a SubjectPublicKeyInfo nor a bare point (X||Y) on exactly one "
            "curve of the OCMF algorithm table"
        )
    return found[0]


def _load(data: bytes, *, pem: bool, where: str) -> Any:
    try:
        der = pem_one(data, "PUBLIC KEY") if pem else data  # strict: trailing text is refused
    except Base64Error as exc:
        raise KeyLoadError(f"{where}: not a SubjectPublicKeyInfo ({exc})") from exc
    try:
        return serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        pure = _secp192k1.load_spki(der)
        if pure is not None:
            return pure
        raise KeyLoadError(f"{where}: not a SubjectPublicKeyInfo ({exc})") from exc


def _check(key: Any, where: str) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise KeyLoadError(f"{where}: a meter key must be ECDSA, not {type(key).__name__}")
    if key.curve.name not in CURVE_ALGORITHM:
        raise KeyLoadError(
            f"{where}: curve {key.curve.name} is not in the OCMF algorithm table (OCMF Table 22)"
        )
    return key


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def meter_key_id(key: ec.EllipticCurvePublicKey) -> str:
    """The SPEC §1 key id of a meter key (base64url SHA-256 of its uncompressed SPKI DER)."""
    return key_id(_spki(key))


class MeterKeyring:
    """Trusted meter keys by key id. Adding the same key twice with different names is refused."""

    def __init__(self) -> None:
        self._keys: dict[str, MeterKey] = {}

    def add(
        self,
        key: ec.EllipticCurvePublicKey | str | bytes,
        *,
        name: str | None = None,
        meter: str | None = None,
        gateway: str | None = None,
        source: str = "keyring",
    ) -> MeterKey:
        """Trust ``key`` (a key object, or text/bytes for :func:`decode_public_key`)."""
        pub = key if isinstance(key, ec.EllipticCurvePublicKey) else decode_public_key(key)
        pub = _check(pub, "public key")
        der = _spki(pub)
        kid = key_id(der)
        old = self._keys.get(kid)
        if old is not None and (old.name, old.meter, old.gateway) != (name, meter, gateway):
            raise KeyLoadError(
                f"meter key {kid} is listed twice with different name/meter/gateway "
                f"({old.name!r}, {name!r})"
            )
        entry = MeterKey(
            key_id=kid,
            key=pub,
            spki_der=der,
            algorithm=CURVE_ALGORITHM[pub.curve.name].identifier,
            name=name,
            meter=meter,
            gateway=gateway,
            source=source,
        )
        self._keys[kid] = entry
        return entry

    def add_certificate(
        self,
        chain: Sequence[bytes],
        validator: CertificateValidator,
        *,
        at: datetime,
        now: datetime,
        meter: str | None = None,
        gateway: str | None = None,
    ) -> MeterKey:
        """Trust the leaf key of a DER chain (leaf first) whose effective usages hold
        ``meterSigning``; raise :class:`KeyLoadError` with the validator's reason otherwise."""
        result = validator.validate(chain, at=at, now=now)
        if not result.ok:
            raise KeyLoadError(f"meter certificate not trusted: {result.reason}")
        if METER_USAGE not in result.usages:
            have = ", ".join(sorted(result.usages)) or "none"
            raise KeyLoadError(
                f"meter certificate lacks the usage {METER_USAGE} (effective usages: {have})"
            )
        if result.leaf_spki is None:
            raise KeyLoadError("meter certificate: the validator returned no leaf key")
        return self.add(
            _check(
                _load(result.leaf_spki, pem=False, where="meter certificate"), "meter certificate"
            ),
            name=result.identity,
            meter=meter,
            gateway=gateway,
            source="certificate",
        )

    def add_certificate_file(
        self, path: Path | str, validator: CertificateValidator, *, at: datetime, now: datetime
    ) -> MeterKey:
        """Trust the leaf key of a PEM or DER chain file (leaf first), as :meth:`add_certificate`
        does; every error names the file."""
        try:
            chain = [
                c.public_bytes(serialization.Encoding.DER) for c in load_certificates_file(path)
            ]
            return self.add_certificate(chain, validator, at=at, now=now)
        except OcppE2EError as exc:
            message = str(exc)
            if message.startswith(f"{path}:"):  # the certificate loader names the file already
                raise KeyLoadError(message) from exc
            raise KeyLoadError(f"{path}: {message}") from exc

    def extend(self, other: MeterKeyring) -> None:
        """Trust every key of ``other`` too (same rules as :meth:`add`)."""
        for k in other:
            self.add(k.key, name=k.name, meter=k.meter, gateway=k.gateway, source=k.source)

    def get(self, kid: str) -> MeterKey | None:
        """The trusted key with SPEC key id ``kid``, or None."""
        return self._keys.get(kid)

    def candidates(
        self, algorithm: str, meter_serial: str | None, gateway_serial: str | None
    ) -> list[MeterKey]:
        """Trusted keys that may have signed a record of that meter under ``algorithm``."""
        return [
            k
            for k in self._keys.values()
            if k.algorithm == algorithm and k.covers(meter_serial, gateway_serial)
        ]

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __iter__(self) -> Iterator[MeterKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    # -- building

    @classmethod
    def from_keyring(cls, keyring: Keyring) -> MeterKeyring:
        """Trust the ECDSA keys of a frame :class:`~ocpp_e2e.keys.Keyring` (names kept).

        Ed25519 and P-521 entries cannot sign OCMF records and are left out.
        """
        ring = cls()
        for info in keyring:
            pub = serialization.load_der_public_key(info.spki_der)
            if isinstance(pub, ec.EllipticCurvePublicKey) and pub.curve.name in CURVE_ALGORITHM:
                ring.add(pub, name=info.name, source="keyring")
        return ring

    @classmethod
    def from_entries(
        cls, entries: Iterable[Mapping[str, Any]], *, source: str = "keyring"
    ) -> MeterKeyring:
        """Build from ``[{"publicKey": ..., "name": ..., "meter": MS, "gateway": GS}]``.

        ``publicKey`` is PEM or hex/base64 SubjectPublicKeyInfo DER; ``meter``/``gateway`` bind the
        key to one meter. ``roles`` is allowed (and ignored) so a frame keyring file also loads.
        """
        ring = cls()
        for where, text, entry in _keyring_entries(
            entries, source, ("meter", "gateway", "roles"), "PEM or hex/base64 SPKI DER"
        ):
            fields: dict[str, str | None] = {}
            for name in ("name", "meter", "gateway"):
                value = entry.get(name)
                if value is not None and not isinstance(value, str):
                    raise KeyLoadError(f"{where}.{name}: must be a string")
                fields[name] = value
            ring.add(
                decode_public_key(text, where=f"{where}.publicKey"),
                name=fields["name"],
                meter=fields["meter"],
                gateway=fields["gateway"],
            )
        return ring

    @classmethod
    def load(cls, path: Path | str) -> MeterKeyring:
        """Load a meter keyring: JSON ``{"keys": [...]}`` (see :meth:`from_entries`; a frame
        keyring file works too), or one key file (PEM, DER, hex or base64)."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise KeyLoadError(f"{path}: cannot read meter keyring ({exc.strerror})") from exc
        if raw.lstrip().startswith(b"{"):
            entries = _keyring_document(raw, str(path), "meter keyring")
            return cls.from_entries(entries, source=str(path))
        ring = cls()
        ring.add_file(path)
        return ring

    def add_file(self, path: Path | str, *, name: str | None = None) -> MeterKey:
        """Trust the key in a file (PEM, DER, hex or base64 SPKI); the name defaults to its stem."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise KeyLoadError(f"{path}: cannot read key file ({exc.strerror})") from exc
        if b"PRIVATE KEY-----" in raw:
            raise KeyLoadError(f"{path}: this is a private key; trust needs the public key only")
        pub = decode_public_key(raw, where=str(path))
        return self.add(pub, name=name if name is not None else path.stem, source="file")


def load_meter_keyring(
    *,
    keys: Sequence[Path | str] = (),
    keyrings: Sequence[Path | str] = (),
    certificates: Sequence[Path | str] = (),
    validator: CertificateValidator | None = None,
    at: datetime,
) -> MeterKeyring:
    """The trusted meter keys from files, as the audit and ``ocpp-e2e meter verify`` take them.

    ``keyrings`` are meter keyring files (:meth:`MeterKeyring.load`), ``keys`` public key files
    (PEM, DER, hex, base64; named after the file), ``certificates`` PEM or DER chain files (leaf
    first) whose leaf must carry the ``meterSigning`` usage and be valid at ``at`` (used both as
    the signature time and as now) under ``validator``. Raises :class:`KeyLoadError` naming the
    file; certificates without a validator are refused, never trusted unchecked.
    """
    ring = MeterKeyring()
    for path in keyrings:
        ring.extend(MeterKeyring.load(path))
    for path in keys:
        ring.add_file(path)
    if certificates and validator is None:
        raise KeyLoadError(f"{certificates[0]}: a meter certificate needs trust anchors")
    for path in certificates:
        assert validator is not None
        ring.add_certificate_file(path, validator, at=at, now=at)
    return ring
