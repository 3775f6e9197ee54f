"""ESP recipient keys (docs/esp.md §9.2): X25519 and the ML-KEM-768 + X25519 hybrid (X-Wing).

A recipient key is a key-agreement key: it never signs. Its type decides the HPKE KEM; its key id
is SPEC §1's (base64url SHA-256 of the SubjectPublicKeyInfo DER).

>>> key = generate_esp_key("X25519")
>>> key.public.type.value, len(key.public.key_id), len(key.public.spki)
('X25519', 43, 44)
>>> hybrid = generate_esp_key("ML-KEM-768+X25519")
>>> len(hybrid.public.spki), load_esp_public_spki(hybrid.public.spki) == hybrid.public
(1240, True)
"""

from __future__ import annotations

import base64
import enum
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from .._b64 import Base64Error, b64url_decode
from ..errors import KeyLoadError
from ..keys import (
    _keyring_document,
    _keyring_entries,
    _pem_private_key,
    _public_key_files,
    _read_key_file,
    _write_secret,
    key_id,
)

__all__ = [
    "EspKeyInfo",
    "EspKeyType",
    "EspKeyring",
    "EspPrivateKey",
    "EspPublicKey",
    "HpkePrivateKey",
    "HpkePublicKey",
    "esp_private_key_to_pem",
    "generate_esp_key",
    "load_esp_private_key",
    "load_esp_private_pem",
    "load_esp_public_spki",
    "load_esp_public_text",
    "write_esp_private_key",
]


class EspKeyType(enum.StrEnum):
    """The two recipient key types; each picks its HPKE KEM (docs/esp.md §9.2)."""

    X25519 = "X25519"
    HYBRID = "ML-KEM-768+X25519"


# RFC 8410 SubjectPublicKeyInfo of an X25519 key: this prefix, then the 32 key bytes.
_X25519_SPKI_PREFIX = bytes.fromhex("302a300506032b656e032100")
# id-XWing 1.3.6.1.4.1.62253.25722 (draft-connolly-cfrg-xwing-kem), no parameters; the BIT STRING
# holds the raw 1216-byte public key, the PKCS#8 OCTET STRING the raw 32-byte seed.
_XWING_OID_DER = bytes.fromhex("060b2b0601040183e62d81c87a")
_XWING_SPKI_PREFIX = bytes.fromhex("308204d4300d") + _XWING_OID_DER + bytes.fromhex("038204c100")
_XWING_PKCS8_PREFIX = bytes.fromhex("3034020100300d") + _XWING_OID_DER + bytes.fromhex("0420")
_MLKEM768_PK = 1184
_XWING_PK = _MLKEM768_PK + 32
_XWING_SEED = 32

HpkePublicKey = x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey
HpkePrivateKey = x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey


@dataclass(frozen=True)
class EspPublicKey:
    """A recipient's public key: its type, SPKI DER, key id and the HPKE key object."""

    type: EspKeyType
    spki: bytes
    key_id: str
    hpke_key: HpkePublicKey = field(compare=False, repr=False)

    def to_pem(self) -> bytes:
        """``-----BEGIN PUBLIC KEY-----`` PEM of the SPKI DER."""
        return _pem("PUBLIC KEY", self.spki)


@dataclass(frozen=True)
class EspPrivateKey:
    """A recipient's private key with its public half.

    ``secret`` is what the PKCS#8 file holds: the X25519 private key or the 32-byte X-Wing seed.
    """

    public: EspPublicKey
    hpke_key: HpkePrivateKey = field(repr=False)
    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return self.public.key_id

    @property
    def type(self) -> EspKeyType:
        return self.public.type


def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"".join(
        [
            f"-----BEGIN {label}-----\n".encode(),
            *(ln + b"\n" for ln in lines),
            f"-----END {label}-----\n".encode(),
        ]
    )


def _key_type(name: str) -> EspKeyType:
    try:
        return EspKeyType(name)
    except ValueError:
        choices = ", ".join(t.value for t in EspKeyType)
        raise KeyLoadError(f"unknown ESP key type {name!r}; choose one of {choices}") from None


def _x25519_public(pub: x25519.X25519PublicKey) -> EspPublicKey:
    spki = _X25519_SPKI_PREFIX + pub.public_bytes_raw()
    return EspPublicKey(EspKeyType.X25519, spki, key_id(spki), pub)


def _hybrid_from_seed(seed: bytes) -> EspPrivateKey:
    # X-Wing key generation from its seed: SHAKE256(seed, 96) gives ML-KEM-768's d||z (64 bytes)
    # and the X25519 private key (32 bytes).
    expanded = hashlib.shake_256(seed).digest(96)
    kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    dh = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
    raw = kem.public_key().public_bytes_raw() + dh.public_key().public_bytes_raw()
    spki = _XWING_SPKI_PREFIX + raw
    public = EspPublicKey(
        EspKeyType.HYBRID,
        spki,
        key_id(spki),
        hpke.MLKEM768X25519PublicKey(kem.public_key(), dh.public_key()),
    )
    return EspPrivateKey(public, hpke.MLKEM768X25519PrivateKey(kem, dh), seed)


def _x25519_private(key: x25519.X25519PrivateKey) -> EspPrivateKey:
    return EspPrivateKey(_x25519_public(key.public_key()), key, key.private_bytes_raw())


def generate_esp_key(key_type: str = "X25519") -> EspPrivateKey:
    """A new recipient key: ``X25519`` or ``ML-KEM-768+X25519`` (post-quantum hybrid)."""
    kind = _key_type(key_type)
    if kind is EspKeyType.X25519:
        return _x25519_private(x25519.X25519PrivateKey.generate())
    return _hybrid_from_seed(os.urandom(_XWING_SEED))


def load_esp_public_spki(der: bytes) -> EspPublicKey:
    """Load a recipient key's SPKI DER strictly: exactly the X25519 or X-Wing encoding (§9.2)."""
    if len(der) == len(_X25519_SPKI_PREFIX) + 32 and der.startswith(_X25519_SPKI_PREFIX):
        return _x25519_public(x25519.X25519PublicKey.from_public_bytes(der[-32:]))
    if len(der) == len(_XWING_SPKI_PREFIX) + _XWING_PK and der.startswith(_XWING_SPKI_PREFIX):
        raw = der[len(_XWING_SPKI_PREFIX) :]
        try:
            kem = mlkem.MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM768_PK])
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyLoadError(
                f"the ML-KEM-768 part of the hybrid key is not valid ({exc})"
            ) from exc
        dh = x25519.X25519PublicKey.from_public_bytes(raw[_MLKEM768_PK:])
        return EspPublicKey(
            EspKeyType.HYBRID, der, key_id(der), hpke.MLKEM768X25519PublicKey(kem, dh)
        )
    raise KeyLoadError(
        "not an ESP recipient key: the SubjectPublicKeyInfo must be X25519 (RFC 8410) or "
        "ML-KEM-768+X25519 (id-XWing 1.3.6.1.4.1.62253.25722), exactly as docs/esp.md §9.2 says"
    )


def _pem_body(text: str, label: str, source: str) -> bytes:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    lines = [ln.strip() for ln in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != begin or lines[-1] != end:
        raise KeyLoadError(f"{source}: not a PEM {label.lower()} ({begin} ... {end})")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError as exc:
        raise KeyLoadError(f"{source}: the PEM body is not base64 ({exc})") from exc


def load_esp_public_text(text: str, *, source: str = "public key") -> EspPublicKey:
    """A recipient public key from PEM (``PUBLIC KEY``) or base64url SPKI DER text."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        der = _pem_body(text, "PUBLIC KEY", source)
    else:
        try:
            der = b64url_decode(text)
        except Base64Error as exc:
            raise KeyLoadError(f"{source}: neither PEM nor base64url SPKI DER ({exc})") from exc
    try:
        return load_esp_public_spki(der)
    except KeyLoadError as exc:
        raise KeyLoadError(f"{source}: {exc}") from exc


def esp_private_key_to_pem(key: EspPrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM (X25519 may be password-encrypted; a hybrid key's file holds its seed)."""
    if isinstance(key.hpke_key, x25519.X25519PrivateKey):
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return key.hpke_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
        )
    if password:
        raise KeyLoadError(
            "a ML-KEM-768+X25519 key file cannot be password-encrypted yet; keep it 0600 or in "
            "a secret store"
        )
    return _pem("PRIVATE KEY", _XWING_PKCS8_PREFIX + key.secret)


def write_esp_private_key(
    path: Path | str, key: EspPrivateKey, password: bytes | None = None
) -> None:
    """Write a recipient private key with owner-only permissions (0600)."""
    _write_secret(path, esp_private_key_to_pem(key, password))


def load_esp_private_pem(
    data: bytes, password: bytes | None = None, *, source: str = "key"
) -> EspPrivateKey:
    """Load a recipient private key from PKCS#8 PEM; errors name ``source`` and the problem."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyLoadError(f"{source}: not a PEM private key (not ASCII text)") from None
    if "PRIVATE KEY-----" not in text:
        if "PUBLIC KEY-----" in text or "CERTIFICATE-----" in text:
            raise KeyLoadError(f"{source}: this is a public key or certificate, not a private key")
        raise KeyLoadError(f"{source}: not a PEM private key")
    if "ENCRYPTED PRIVATE KEY" not in text:
        der = _pem_body(text, "PRIVATE KEY", source)
        if len(der) == len(_XWING_PKCS8_PREFIX) + _XWING_SEED and der.startswith(
            _XWING_PKCS8_PREFIX
        ):
            if password is not None:
                raise KeyLoadError(f"{source}: the key is not encrypted; give no password")
            return _hybrid_from_seed(der[len(_XWING_PKCS8_PREFIX) :])
    key = _pem_private_key(data, password, source)
    if not isinstance(key, x25519.X25519PrivateKey):
        raise KeyLoadError(
            f"{source}: a {type(key).__name__} is not an ESP recipient key "
            "(use X25519 or ML-KEM-768+X25519; signing keys never decrypt)"
        )
    return _x25519_private(key)


def load_esp_private_key(path: Path | str, password: bytes | None = None) -> EspPrivateKey:
    """Load a recipient private key file (PKCS#8 PEM)."""
    path = Path(path)
    return load_esp_private_pem(_read_key_file(path), password, source=str(path))


@dataclass(frozen=True)
class EspKeyInfo:
    """A keyring entry: the key and the identity it belongs to (``name``; None: no identity)."""

    key: EspPublicKey
    name: str | None


class EspKeyring:
    """Recipient public keys by key id, each with an optional identity (docs/esp.md §9.2).

    >>> ring = EspKeyring()
    >>> info = ring.add(generate_esp_key().public, name="cs-1")
    >>> ring.get(info.key.key_id).name
    'cs-1'
    """

    def __init__(self, entries: Iterable[EspKeyInfo] = ()) -> None:
        self._entries: dict[str, EspKeyInfo] = {}
        for entry in entries:
            self.add(entry.key, name=entry.name)

    def add(self, key: EspPublicKey, *, name: str | None = None) -> EspKeyInfo:
        """Add a key; the same key twice must have the same name."""
        old = self._entries.get(key.key_id)
        if old is not None and old.name != name:
            raise KeyLoadError(
                f"key {key.key_id} is listed twice with different names ({old.name!r}, {name!r})"
            )
        info = EspKeyInfo(key, name)
        self._entries[key.key_id] = info
        return info

    def get(self, kid: str) -> EspKeyInfo | None:
        return self._entries.get(kid)

    def for_identity(self, identity: str) -> list[EspPublicKey]:
        """The keys named ``identity`` (ASCII case-insensitive), in the order they were added."""
        wanted = identity.lower() if identity.isascii() else identity
        return [
            e.key
            for e in self._entries.values()
            if e.name is not None and (e.name.lower() if e.name.isascii() else e.name) == wanted
        ]

    def __contains__(self, kid: object) -> bool:
        return kid in self._entries

    def __iter__(self) -> Iterator[EspKeyInfo]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def from_entries(
        cls, entries: Iterable[Mapping[str, Any]], *, source: str = "keyring"
    ) -> EspKeyring:
        """Build from ``[{"publicKey": PEM or base64url SPKI, "name": identity}]``."""
        ring = cls()
        for where, text, entry in _keyring_entries(entries, source, ()):
            ring.add(
                load_esp_public_text(text, source=f"{where}.publicKey"), name=entry.get("name")
            )
        return ring

    @classmethod
    def load(cls, path: Path | str) -> EspKeyring:
        """A keyring file (JSON ``{"keys": [...]}``), one PEM public key, or a folder of them.

        In a folder each ``*.pem``/``*.pub`` file's stem is the key's identity; private key files
        are refused, not skipped.
        """
        path = Path(path)
        if path.is_dir():
            ring = cls()
            for file in _public_key_files(path):
                ring.add(_public_file(file), name=file.stem)
            return ring
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise KeyLoadError(f"{path}: cannot read keyring ({exc.strerror})") from exc
        if raw.lstrip().startswith(b"-----BEGIN"):
            ring = cls()
            ring.add(_public_file(path), name=path.stem)
            return ring
        return cls.from_entries(_keyring_document(raw, str(path), "ESP keyring"), source=str(path))


def _public_file(path: Path) -> EspPublicKey:
    try:
        text = path.read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyLoadError(f"{path}: cannot read public key file ({exc})") from exc
    if "PRIVATE KEY-----" in text:
        raise KeyLoadError(f"{path}: this is a private key; a keyring holds public keys only")
    return load_esp_public_text(text, source=str(path))
