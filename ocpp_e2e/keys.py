"""Keys: generation, PEM files, SPEC key ids, signers and keyrings.

>>> key = generate_private_key("Ed25519")
>>> signer = KeySigner(key)
>>> len(signer.key_id)
43
"""

from __future__ import annotations

import hashlib
import importlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ._b64 import Base64Error, b64url_decode, b64url_encode, pem_blocks, pem_one
from .algorithms import ALGORITHMS as _ALGORITHMS
from .algorithms import Algorithm, PrivateKey, PublicKey, algorithm_of, public_key_of
from .canonical import loads
from .errors import InputError, KeyLoadError
from .model import KeyInfo

__all__ = [
    "ALGORITHMS",
    "SIGNER_FOR_URI_SCHEME",
    "KeySigner",
    "Keyring",
    "PrivateKey",
    "PublicKey",
    "Signer",
    "algorithm_for",
    "generate_private_key",
    "key_id",
    "key_matches_algorithm",
    "load_private_key",
    "load_private_key_pem",
    "load_public_key_file",
    "load_public_key_text",
    "load_signer",
    "load_spki",
    "private_key_to_pem",
    "public_key_to_pem",
    "spki_der",
    "write_private_key",
]

#: SPEC §1 algorithms by name (see :mod:`ocpp_e2e.algorithms`).
ALGORITHMS = _ALGORITHMS


def key_id(spki_der: bytes) -> str:
    """SPEC §1 key id: base64url SHA-256 of the SubjectPublicKeyInfo DER (43 characters)."""
    return b64url_encode(hashlib.sha256(spki_der).digest())


def spki_der(key: PublicKey | PrivateKey) -> bytes:
    """The SubjectPublicKeyInfo DER of a key (uncompressed point for EC keys)."""
    return public_key_of(key).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def algorithm_for(key: PublicKey | PrivateKey) -> str:
    """The SPEC algorithm name that goes with a key; raises :class:`KeyLoadError` for others."""
    return algorithm_of(key).name


def generate_private_key(algorithm: str = "Ed25519") -> PrivateKey:
    """Generate a new private key for one of :data:`ALGORITHMS` (``Ed25519``, ``ES256``, ...)."""
    row = ALGORITHMS.get(algorithm)
    if row is None:
        raise KeyLoadError(
            f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}"
        )
    return row.generate()


# --------------------------------------------------------------------------- public keys


def load_spki(der: bytes) -> PublicKey:
    """Load a SubjectPublicKeyInfo DER strictly (SPEC §1).

    Only keys of :data:`ALGORITHMS` are accepted (EC keys with an uncompressed point), and the
    DER must be exactly the canonical encoding: otherwise one key would have several key ids.
    Each algorithm may refuse more (Ed25519: non-canonical points and small order, RFC 8032).
    """
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"not a usable SubjectPublicKeyInfo: {exc}") from exc
    key, row = _public_of_spec(key)
    if spki_der(key) != der:
        raise KeyLoadError(
            "public key is not in canonical form (compressed EC point or non-canonical DER)"
        )
    row.check_public(key)
    return key


def _public_of_spec(key: object) -> tuple[PublicKey, Algorithm]:
    if not isinstance(key, PublicKey):
        raise KeyLoadError(f"unsupported public key type {type(key).__name__}")
    return key, algorithm_of(key)


def load_public_key_text(text: str) -> tuple[PublicKey, bytes]:
    """Load a public key given as PEM (``-----BEGIN PUBLIC KEY-----``) or base64url SPKI DER."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        # Strict PEM: one PUBLIC KEY block and nothing else (trailing text or a second key
        # appended is refused, not ignored). The DER it holds is checked as it is, never the key
        # re-encoded: a compressed point is refused (SPEC §1), never silently normalized.
        try:
            der = pem_one(text, "PUBLIC KEY")
        except Base64Error as exc:
            raise KeyLoadError(f"not a PEM public key: {exc}") from exc
        return load_spki(der), der
    try:
        der = b64url_decode(text)
    except Base64Error as exc:
        raise KeyLoadError(f"public key is neither PEM nor base64url SPKI DER ({exc})") from exc
    return load_spki(der), der


def _verify_raw(key: PublicKey, algorithm: str, signature: bytes, data: bytes) -> bool:
    """Verify a raw SPEC signature value; False also when ``algorithm`` does not fit the key."""
    row = ALGORITHMS.get(algorithm)
    return row is not None and row.verify(key, signature, data)


def key_matches_algorithm(key: PublicKey, algorithm: str) -> bool:
    """True when the SPEC algorithm name fits the key type and curve."""
    row = ALGORITHMS.get(algorithm)
    return row is not None and row.fits(key)


# --------------------------------------------------------------------------- signers


@runtime_checkable
class Signer(Protocol):
    """Anything that signs: one job, ``sign(data) -> raw signature`` (SPEC §1 encoding).

    Implementations may keep the private key elsewhere (an HSM, a KMS); the signing code only needs
    these attributes. ``certificates`` is the DER chain (leaf first) to attach, if any.
    """

    key_id: str
    algorithm: str
    public_key_der: bytes
    certificates: tuple[bytes, ...]

    def sign(self, data: bytes) -> bytes:
        """Return the raw signature value over ``data``."""
        ...


class KeySigner:
    """A :class:`Signer` over an in-memory private key (from a PEM file, env var or generated)."""

    def __init__(self, private_key: PrivateKey, *, certificates: Sequence[bytes] = ()) -> None:
        self._row = algorithm_of(private_key)
        self.algorithm = self._row.name
        self._key = private_key
        self.public_key_der = spki_der(private_key)
        self.key_id = key_id(self.public_key_der)
        self.certificates = tuple(certificates)

    def sign(self, data: bytes) -> bytes:
        return self._row.sign(self._key, data)

    def __repr__(self) -> str:
        return f"KeySigner(algorithm={self.algorithm!r}, key_id={self.key_id!r})"


# --------------------------------------------------------------------------- PEM files


def private_key_to_pem(key: PrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with the best available scheme when a password is given."""
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def public_key_to_pem(key: PublicKey | PrivateKey) -> bytes:
    """SPKI PEM of a key's public half."""
    return public_key_of(key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_private_key(path: Path, key: PrivateKey, password: bytes | None = None) -> None:
    """Write a private key with owner-only permissions (0600), never world-readable even briefly."""
    _write_secret(path, private_key_to_pem(key, password))


def _write_secret(path: Path | str, data: bytes) -> None:
    """Write a private key file (signing or ESP) created 0600, so never readable by others."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    try:
        os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR)
        os.write(fd, data)
    finally:
        os.close(fd)


def _read_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyLoadError(f"{path}: cannot read key file ({exc.strerror})") from exc


def load_private_key(path: Path | str, password: bytes | None = None) -> PrivateKey:
    """Load a PKCS#8 (or traditional) PEM private key; errors name the file and the problem."""
    path = Path(path)
    return load_private_key_pem(_read_key_file(path), password, source=str(path))


def _pem_private_key(data: bytes, password: bytes | None, source: str) -> object:
    """cryptography's PEM private key reader, its errors as :class:`KeyLoadError` naming
    ``source`` and what to do (signing and ESP keys alike)."""
    try:
        return serialization.load_pem_private_key(data, password=password)
    except TypeError as exc:
        if password is None:
            raise KeyLoadError(f"{source}: the key is encrypted; give its password") from exc
        raise KeyLoadError(f"{source}: the key is not encrypted; give no password") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        if password is not None:
            raise KeyLoadError(f"{source}: wrong password or damaged key") from exc
        raise KeyLoadError(f"{source}: not a usable private key ({exc})") from exc


def load_private_key_pem(
    data: bytes, password: bytes | None = None, *, source: str = "key"
) -> PrivateKey:
    """Load a PEM private key from bytes (see :func:`load_private_key`)."""
    if b"PRIVATE KEY-----" not in data:
        if b"PUBLIC KEY-----" in data or b"CERTIFICATE-----" in data:
            raise KeyLoadError(f"{source}: this is a public key or certificate, not a private key")
        raise KeyLoadError(f"{source}: not a PEM private key")
    try:
        blocks = pem_blocks(data)
    except Base64Error as exc:
        raise KeyLoadError(f"{source}: not a PEM private key ({exc})") from exc
    if len(blocks) != 1:
        raise KeyLoadError(f"{source}: holds {len(blocks)} PEM blocks; a key file holds one key")
    key = _pem_private_key(data, password, source)
    try:
        algorithm_of(key)  # the table's own refusal, naming its algorithms
    except KeyLoadError as exc:
        raise KeyLoadError(f"{source}: {exc}") from exc
    assert isinstance(key, PrivateKey)  # every row's key type is in the union
    return key


def load_public_key_file(path: Path | str) -> tuple[PublicKey, bytes]:
    """Load a PEM public key file; returns the key and its SPKI DER."""
    path = Path(path)
    try:
        text = path.read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyLoadError(f"{path}: cannot read public key file ({exc})") from exc
    if "PRIVATE KEY-----" in text:
        raise KeyLoadError(f"{path}: this is a private key; a keyring holds public keys only")
    try:
        return load_public_key_text(text)
    except KeyLoadError as exc:
        raise KeyLoadError(f"{path}: {exc}") from exc


def _file_signer(uri: str, password: bytes | None, certificates: Sequence[bytes]) -> Signer:
    path = uri.removeprefix("file:")
    return KeySigner(load_private_key(path, password), certificates=certificates)


def _envvar_signer(uri: str, password: bytes | None, certificates: Sequence[bytes]) -> Signer:
    name = uri.removeprefix("envvar:")
    value = os.environ.get(name)
    if value is None:
        raise KeyLoadError(f"environment variable {name} is not set")
    key = load_private_key_pem(value.encode(), password, source=f"${name}")
    return KeySigner(key, certificates=certificates)


SignerFactory = Callable[[str, bytes | None, Sequence[bytes]], Signer]


def _in_module(module: str) -> SignerFactory:
    """The ``signer_from_uri`` of one of this package's modules, imported on first use (so that a
    key store's optional dependency loads only when a URI names it)."""

    def factory(uri: str, password: bytes | None, certificates: Sequence[bytes]) -> Signer:
        found = importlib.import_module(f".{module}", __package__)
        signer: Signer = found.signer_from_uri(uri, password, certificates)
        return signer

    return factory


#: Key URI scheme -> signer factory ``(uri, password, certificates) -> Signer``, in the manner of
#: securesystemslib's ``SIGNER_FOR_URI_SCHEME``: a new key store is one module (with its
#: ``signer_from_uri``) and one row.
SIGNER_FOR_URI_SCHEME: Mapping[str, SignerFactory] = {
    "file": _file_signer,
    "envvar": _envvar_signer,
    "pkcs11": _in_module("pkcs11"),
}


def load_signer(
    uri: str, password: bytes | None = None, *, certificates: Sequence[bytes] = ()
) -> Signer:
    """Load a signer from a key URI: ``file:PATH`` (or a bare path) reads a PEM private key file,
    ``envvar:NAME`` a PEM in an environment variable, ``pkcs11:...`` (RFC 7512) uses a key in a
    token (see :mod:`ocpp_e2e.pkcs11`). ``password`` decrypts PEM keys.

    >>> load_signer("envvar:OCPP_E2E_NO_SUCH_VARIABLE")
    Traceback (most recent call last):
    ...
    ocpp_e2e.errors.KeyLoadError: environment variable OCPP_E2E_NO_SUCH_VARIABLE is not set
    """
    scheme, colon, _rest = uri.partition(":")
    factory = SIGNER_FOR_URI_SCHEME.get(scheme) if colon else None
    if factory is None:
        # A bare path; "C:\\keys\\a.pem" and "./x:y.pem" are paths too.
        factory = _file_signer
    return factory(uri, password, tuple(certificates))


# --------------------------------------------------------------------------- keyrings


@dataclass(frozen=True)
class _Entry:
    info: KeyInfo
    key: PublicKey
    algorithm: str


def _keyring_entries(
    entries: Iterable[Mapping[str, Any]],
    source: str,
    members: Sequence[str],
    forms: str = "a PEM or base64url SPKI string",
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """The entries of a keyring's ``keys`` list, each checked as every keyring reads it (frame,
    ESP and meter keyrings): an object with a ``publicKey`` string, an optional ``name`` string
    and no member but those and ``members``. Yields ``(place, publicKey text, entry)``.
    """
    allowed = {"publicKey", "name", *members}
    for i, entry in enumerate(entries):
        where = f"{source}: keys[{i}]"
        if not isinstance(entry, Mapping):
            raise KeyLoadError(f"{where}: expected an object")
        unknown = set(entry) - allowed
        if unknown:
            raise KeyLoadError(f"{where}: unknown member(s) {', '.join(sorted(unknown))}")
        text = entry.get("publicKey")
        if not isinstance(text, str):
            raise KeyLoadError(f"{where}.publicKey: required, {forms}")
        name = entry.get("name")
        if name is not None and not isinstance(name, str):
            raise KeyLoadError(f"{where}.name: must be a string")
        yield where, text, entry


def _keyring_document(raw: bytes, source: str, kind: str = "keyring") -> list[Any]:
    """The ``keys`` list of a keyring file's JSON text: strict I-JSON (a duplicate member must not
    silently swap a key) and an object with exactly one member, ``keys``.

    >>> _keyring_document(b'{"keys": [], "keys": []}', "ring.json")
    Traceback (most recent call last):
    ...
    ocpp_e2e.errors.KeyLoadError: ring.json: not a keyring (JSON {"keys": [...]} or PEM): $ (line 1, column 20): duplicate member name "keys"
    """
    try:
        doc = loads(raw)
    except InputError as exc:
        raise KeyLoadError(
            f'{source}: not a {kind} (JSON {{"keys": [...]}} or PEM): {exc}'
        ) from exc
    if not isinstance(doc, dict) or set(doc) != {"keys"} or not isinstance(doc["keys"], list):
        raise KeyLoadError(f'{source}: a {kind} file is a JSON object {{"keys": [...]}}')
    return doc["keys"]


def _public_key_files(folder: Path) -> list[Path]:
    """The ``*.pem`` and ``*.pub`` files of a keyring folder, in name order; none is an error."""
    files = sorted(p for p in folder.iterdir() if p.suffix in {".pem", ".pub"})
    if not files:
        raise KeyLoadError(f"{folder}: no *.pem or *.pub public key files in this folder")
    return files


class Keyring:
    """Trusted public keys by SPEC key id, each with a name (identity) and roles.

    >>> ring = Keyring()
    >>> info = ring.add(generate_private_key().public_key(), name="ops-1", roles=["csms-admin"])
    >>> ring.get(info.key_id).name
    'ops-1'
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def add(
        self,
        key: PublicKey | bytes,
        *,
        name: str | None = None,
        roles: Iterable[str] = (),
    ) -> KeyInfo:
        """Add a public key object or SPKI DER; adding the same key twice merges the roles."""
        if isinstance(key, bytes):
            der = key
            pub = load_spki(der)
        else:
            der = spki_der(key)
            pub = load_spki(der)
        kid = key_id(der)
        old = self._entries.get(kid)
        if old is not None:
            if old.info.name != name:
                raise KeyLoadError(
                    f"key {kid} is listed twice with different names ({old.info.name!r}, {name!r})"
                )
            roles = set(roles) | old.info.roles
        info = KeyInfo(key_id=kid, spki_der=der, name=name, roles=frozenset(roles))
        self._entries[kid] = _Entry(info, pub, algorithm_for(pub))
        return info

    def get(self, kid: str) -> KeyInfo | None:
        entry = self._entries.get(kid)
        return entry.info if entry else None

    def public_key(self, kid: str) -> PublicKey | None:
        entry = self._entries.get(kid)
        return entry.key if entry else None

    def lookup(self, kid: str) -> tuple[KeyInfo, PublicKey, str] | None:
        """The entry, loaded key and algorithm of a key id, in one look-up (the verifier's)."""
        entry = self._entries.get(kid)
        return (entry.info, entry.key, entry.algorithm) if entry else None

    def __contains__(self, kid: object) -> bool:
        return kid in self._entries

    def __iter__(self) -> Iterator[KeyInfo]:
        return (e.info for e in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    # -- loading

    @classmethod
    def from_entries(
        cls, entries: Iterable[Mapping[str, Any]], *, source: str = "keyring"
    ) -> Keyring:
        """Build from ``[{"publicKey": PEM or base64url SPKI, "name": ..., "roles": [...]}]``."""
        ring = cls()
        for where, text, entry in _keyring_entries(entries, source, ("name", "roles")):
            name = entry.get("name")
            roles = entry.get("roles", [])
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise KeyLoadError(f"{where}.roles: must be a list of strings")
            try:
                pub, _der = load_public_key_text(text)
            except KeyLoadError as exc:
                raise KeyLoadError(f"{where}.publicKey: {exc}") from exc
            ring.add(pub, name=name, roles=roles)
        return ring

    @classmethod
    def load(cls, path: Path | str) -> Keyring:
        """Load a keyring file (JSON ``{"keys": [...]}``) or a folder of ``*.pem`` public keys.

        In a folder each file's stem is the key's name; a ``*.roles`` file beside it may list roles
        (one per line). Private key files in the folder are refused, not skipped.
        """
        path = Path(path)
        if path.is_dir():
            ring = cls()
            for file in _public_key_files(path):
                pub, _der = load_public_key_file(file)
                roles_file = file.with_suffix(".roles")
                roles: list[str] = []
                if roles_file.exists():
                    try:
                        text = roles_file.read_text("utf-8")
                    except (OSError, UnicodeDecodeError) as exc:
                        raise KeyLoadError(f"{roles_file}: cannot read roles file ({exc})") from exc
                    roles = [ln.strip() for ln in text.splitlines() if ln.strip()]
                ring.add(pub, name=file.stem, roles=roles)
            return ring
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise KeyLoadError(f"{path}: cannot read keyring ({exc.strerror})") from exc
        return cls.parse(raw, source=str(path), name=path.stem)

    @classmethod
    def parse(cls, raw: bytes, *, source: str = "keyring", name: str | None = None) -> Keyring:
        """Read the bytes of a keyring file (see :meth:`load`); ``source`` names it in errors and
        ``name`` is the key's name when the file is one PEM public key.

        >>> len(Keyring.parse(b'{"keys": []}'))
        0
        """
        if raw.lstrip().startswith(b"-----BEGIN"):
            try:
                text = raw.decode("ascii")
            except UnicodeDecodeError as exc:
                raise KeyLoadError(f"{source}: cannot read public key file ({exc})") from exc
            if "PRIVATE KEY-----" in text:
                raise KeyLoadError(
                    f"{source}: this is a private key; a keyring holds public keys only"
                )
            try:
                pub, _der = load_public_key_text(text)
            except KeyLoadError as exc:
                raise KeyLoadError(f"{source}: {exc}") from exc
            ring = cls()
            ring.add(pub, name=name)
            return ring
        return cls.from_entries(_keyring_document(raw, source), source=source)
