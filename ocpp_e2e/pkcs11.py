"""Keys in hardware: a :class:`~ocpp_e2e.keys.Signer` over a PKCS#11 token, chosen by an RFC 7512
``pkcs11:`` URI (the ``pkcs11:`` row of :data:`ocpp_e2e.keys.SIGNER_FOR_URI_SCHEME`).

The URI names the token and the key; the PIN never appears in it (nor on a command line, where
``ps`` and shell history would show it): it comes from ``pin-source`` (``file:PATH`` or
``envvar:NAME``) or else from the environment variable ``OCPP_E2E_PKCS11_PIN``. The PKCS#11
library is ``module-path`` or else ``OCPP_E2E_PKCS11_MODULE``::

    pkcs11:token=ocpp;object=csms-1?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=envvar:PIN

Needs ``python-pkcs11`` (the ``pkcs11`` extra). Tested against SoftHSM2.

>>> parse_uri("pkcs11:token=ocpp;object=csms%201;id=%01%02").path
{'token': 'ocpp', 'object': 'csms 1', 'id': '\\x01\\x02'}
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import load_der_public_key

from .algorithms import ALGORITHMS, PublicKey, algorithm_of
from .errors import KeyLoadError
from .keys import key_id, spki_der

__all__ = [
    "MODULE_ENV",
    "PIN_ENV",
    "Pkcs11Signer",
    "Pkcs11Uri",
    "generate_key",
    "parse_uri",
    "signer_from_uri",
]

#: Where the PIN comes from when the URI has no ``pin-source``.
PIN_ENV = "OCPP_E2E_PKCS11_PIN"
#: Where the PKCS#11 library path comes from when the URI has no ``module-path``.
MODULE_ENV = "OCPP_E2E_PKCS11_MODULE"

_PATH_ATTRIBUTES = frozenset(
    {
        "token", "manufacturer", "serial", "model", "object", "id", "type",
        "library-manufacturer", "library-description", "library-version",
        "slot-manufacturer", "slot-description", "slot-id",
    }
)  # fmt: skip
_QUERY_ATTRIBUTES = frozenset({"pin-source", "pin-value", "module-name", "module-path"})


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed RFC 7512 URI: path attributes (``token``, ``object``, ``id``...) and query ones."""

    path: Mapping[str, str]
    query: Mapping[str, str]
    key_id_bytes: bytes | None

    def module(self) -> str:
        """The PKCS#11 library to load."""
        module = self.query.get("module-path") or os.environ.get(MODULE_ENV)
        if not module:
            raise KeyLoadError(
                f"pkcs11: name the PKCS#11 library with module-path=... or {MODULE_ENV}"
            )
        return module

    def pin(self) -> str:
        """The user PIN, from ``pin-source`` or :data:`PIN_ENV`; never from the URI itself."""
        source = self.query.get("pin-source")
        if source is None:
            value = os.environ.get(PIN_ENV)
            if value is None:
                raise KeyLoadError(
                    f"pkcs11: the token needs a PIN: give pin-source=file:PATH or "
                    f"pin-source=envvar:NAME, or set {PIN_ENV}"
                )
            return value
        if source.startswith("envvar:"):
            name = source.removeprefix("envvar:")
            value = os.environ.get(name)
            if value is None:
                raise KeyLoadError(f"pkcs11: pin-source: environment variable {name} is not set")
            return value
        if source.startswith("file:"):
            path = Path(source.removeprefix("file:"))
            try:
                return path.read_text("utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                raise KeyLoadError(f"pkcs11: pin-source: cannot read {path} ({exc})") from exc
        raise KeyLoadError(f"pkcs11: pin-source {source!r} is neither file:PATH nor envvar:NAME")


def parse_uri(uri: str) -> Pkcs11Uri:
    """Parse an RFC 7512 ``pkcs11:`` URI strictly: unknown attributes, repeated ones and a
    ``pin-value`` (a PIN in the URI) are refused with :class:`KeyLoadError`."""
    if not uri.startswith("pkcs11:"):
        raise KeyLoadError(f"not a pkcs11: URI: {uri!r}")
    body, _, query_text = uri.removeprefix("pkcs11:").partition("?")
    path = _attributes(body, ";", _PATH_ATTRIBUTES, "path")
    query = _attributes(query_text, "&", _QUERY_ATTRIBUTES, "query")
    if "pin-value" in query:
        raise KeyLoadError(
            "pkcs11: pin-value puts the PIN where process lists and shell history show it; "
            f"use pin-source=file:PATH or envvar:NAME, or {PIN_ENV}"
        )
    if path.get("type", "private") != "private":
        raise KeyLoadError(f"pkcs11: type={path['type']}: a signer needs type=private")
    if "object" not in path and "id" not in path:
        raise KeyLoadError("pkcs11: name the key with object=LABEL or id=%XX...")
    # ``id`` is bytes: decoded as Latin-1 above, one character per byte.
    raw_id = path["id"].encode("latin-1") if "id" in path else None
    return Pkcs11Uri(path, query, raw_id)


def _attributes(text: str, separator: str, allowed: frozenset[str], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(separator) if text else ():
        name, eq, value = part.partition("=")
        if not eq:
            raise KeyLoadError(f"pkcs11: {where} attribute {part!r} has no value")
        if name not in allowed and not name.startswith("x-"):
            raise KeyLoadError(f"pkcs11: unknown {where} attribute {name!r} (RFC 7512)")
        if name in out:
            raise KeyLoadError(f"pkcs11: {where} attribute {name!r} is given twice")
        try:
            out[name] = unquote(value, "latin-1" if name == "id" else "utf-8", "strict")
        except UnicodeDecodeError as exc:
            raise KeyLoadError(f"pkcs11: {name}: not UTF-8 once percent-decoded") from exc
    return out


# --------------------------------------------------------------------------- the token


def _mechanisms() -> Mapping[str, tuple[Any, str, Any, Callable[[bytes], bytes] | None]]:
    """SPEC algorithm -> (key type, curve, mechanism, pre-hash): how a token makes and uses keys
    of each row. ML-DSA-65 is absent: PKCS#11 3.2 defines it, SoftHSM 2.6 has it not."""
    from pkcs11 import KeyType, Mechanism

    def prehash(name: str) -> Callable[[bytes], bytes]:
        return lambda data: hashlib.new(name, data).digest()

    return {
        "Ed25519": (KeyType.EC_EDWARDS, "1.3.101.112", Mechanism.EDDSA, None),
        # Plain CKM_ECDSA over our own digest: every token has it; the output is r‖s (SPEC §1).
        "ES256": (KeyType.EC, "secp256r1", Mechanism.ECDSA, prehash("sha256")),
        "ES384": (KeyType.EC, "secp384r1", Mechanism.ECDSA, prehash("sha384")),
        "ES512": (KeyType.EC, "secp521r1", Mechanism.ECDSA, prehash("sha512")),
    }


def _library() -> Any:
    try:
        import pkcs11
    except ImportError as exc:
        raise KeyLoadError(
            "pkcs11: URIs need python-pkcs11: pip install 'ocpp-e2e[pkcs11]'"
        ) from exc
    return pkcs11


def _token(uri: Pkcs11Uri) -> Any:
    pkcs11 = _library()
    try:
        lib = pkcs11.lib(uri.module())
    except (RuntimeError, OSError, pkcs11.PKCS11Error) as exc:
        raise KeyLoadError(f"pkcs11: cannot load the library {uri.module()} ({exc})") from exc
    selectors = {
        k: v
        for k, v in (
            ("token_label", uri.path.get("token")),
            ("token_serial", uri.path.get("serial", "").encode() or None),
            ("manufacturer_id", uri.path.get("manufacturer")),
        )
        if v is not None
    }
    try:
        return lib.get_token(**selectors)
    except pkcs11.NoSuchToken as exc:
        raise KeyLoadError(f"pkcs11: no token matches {_describe(uri)}") from exc
    except pkcs11.MultipleTokensReturned as exc:
        raise KeyLoadError(f"pkcs11: several tokens match {_describe(uri)}; name one") from exc


@dataclass
class _Login:
    """The one logged-in session of a token in this process, shared by its signers.

    PKCS#11 login state belongs to the whole process, not to a session: a second login fails and
    closing the session that logged in logs every other one out. So signers of one token share
    this session (counted), and sign one at a time on it.
    """

    session: Any
    users: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_LOGINS: dict[tuple[str, int], _Login] = {}
_LOGINS_LOCK = threading.Lock()


def _login(uri: Pkcs11Uri) -> tuple[tuple[str, int], _Login, Any]:
    """Join (or make) the token's logged-in session; returns its key, the login and the token."""
    pkcs11 = _library()
    token = _token(uri)
    key = (uri.module(), token.slot.slot_id)
    with _LOGINS_LOCK:
        login = _LOGINS.get(key)
        if login is None:
            try:
                session = token.open(user_pin=uri.pin(), rw=True)
            except (pkcs11.PinIncorrect, pkcs11.PinLenRange, pkcs11.PinInvalid) as exc:
                raise KeyLoadError(
                    f"pkcs11: the token refused the PIN ({type(exc).__name__})"
                ) from exc
            except pkcs11.PinLocked as exc:
                raise KeyLoadError("pkcs11: the token's PIN is locked") from exc
            except pkcs11.TokenWriteProtected:
                session = token.open(user_pin=uri.pin())
            login = _LOGINS[key] = _Login(session)
        login.users += 1
    return key, login, token


def _logout(key: tuple[str, int]) -> None:
    with _LOGINS_LOCK:
        login = _LOGINS[key]
        login.users -= 1
        if login.users == 0:
            del _LOGINS[key]
            login.session.close()


def _describe(uri: Pkcs11Uri) -> str:
    return ";".join(f"{k}={v}" for k, v in uri.path.items() if k != "id") or "the URI"


def _find(session: Any, uri: Pkcs11Uri, object_class: Any) -> Any:
    pkcs11 = _library()
    query: dict[str, Any] = {"object_class": object_class}
    if "object" in uri.path:
        query["label"] = uri.path["object"]
    if uri.key_id_bytes is not None:
        query["id"] = uri.key_id_bytes
    try:
        return session.get_key(**query)
    except pkcs11.NoSuchKey as exc:
        raise KeyLoadError(
            f"pkcs11: no {object_class.name.lower()} matches {_describe(uri)}"
        ) from exc
    except pkcs11.MultipleObjectsReturned as exc:
        raise KeyLoadError(f"pkcs11: several keys match {_describe(uri)}; add id=...") from exc


def _public_key(pub: Any) -> PublicKey:
    """The cryptography public key of a token public key object (EC or EdDSA)."""
    from asn1crypto.core import OctetString
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_ec_public_key

    if pub.key_type == KeyType.EC_EDWARDS:
        point = OctetString.load(pub[Attribute.EC_POINT]).native
        return ed25519.Ed25519PublicKey.from_public_bytes(point)
    if pub.key_type == KeyType.EC:
        key = load_der_public_key(encode_ec_public_key(pub))
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return key
    raise KeyLoadError(f"pkcs11: unsupported key type {pub.key_type.name} in the token")


class Pkcs11Signer:
    """A :class:`~ocpp_e2e.keys.Signer` whose private key never leaves a PKCS#11 token.

    It keeps one logged-in session until :meth:`close` (PKCS#11 sessions are not thread-safe, so
    signing is serialized).
    """

    def __init__(self, uri: str, *, certificates: Sequence[bytes] = ()) -> None:
        self.uri = parse_uri(uri)
        from pkcs11 import ObjectClass

        self._login_key, self._login, _token = _login(self.uri)
        self._closed = False
        session = self._login.session
        try:
            self._key = _find(session, self.uri, ObjectClass.PRIVATE_KEY)
            public = _public_key(_find(session, self.uri, ObjectClass.PUBLIC_KEY))
            row = algorithm_of(public)
            mechanisms = _mechanisms()
            if row.name not in mechanisms:
                raise KeyLoadError(f"pkcs11: {row.name} keys in tokens are not supported")
            _type, _curve, self._mechanism, self._prehash = mechanisms[row.name]
        except BaseException:
            _logout(self._login_key)
            raise
        self.algorithm = row.name
        self.public_key_der = spki_der(public)
        self.key_id = key_id(self.public_key_der)
        self.certificates = tuple(certificates)

    def sign(self, data: bytes) -> bytes:
        """The raw SPEC §1 signature, made by the token."""
        message = self._prehash(data) if self._prehash else data
        if self._closed:
            raise KeyLoadError("pkcs11: this signer is closed")
        with self._login.lock:
            signature: bytes = self._key.sign(message, mechanism=self._mechanism)
        return signature

    def close(self) -> None:
        """Leave the token's session (the last signer of a token logs out)."""
        if not self._closed:
            self._closed = True
            _logout(self._login_key)

    def __enter__(self) -> Pkcs11Signer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Pkcs11Signer(algorithm={self.algorithm!r}, key_id={self.key_id!r})"


def signer_from_uri(
    uri: str, password: bytes | None, certificates: Sequence[bytes]
) -> Pkcs11Signer:
    """The ``pkcs11:`` row of :data:`ocpp_e2e.keys.SIGNER_FOR_URI_SCHEME`."""
    if password is not None:
        raise KeyLoadError("pkcs11: a token key has a PIN, not a password (see pin-source)")
    return Pkcs11Signer(uri, certificates=certificates)


def generate_key(uri: str, algorithm: str) -> PublicKey:
    """Generate a key pair of ``algorithm`` inside the token, labelled and identified as the URI
    says (``object=``, ``id=``); returns its public key. The private key is not extractable."""
    parsed = parse_uri(uri)
    if algorithm not in ALGORITHMS:
        raise KeyLoadError(
            f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}"
        )
    mechanisms = _mechanisms()
    if algorithm not in mechanisms:
        raise KeyLoadError(
            f"pkcs11: {algorithm} keys cannot be made in a token here; "
            f"choose one of {', '.join(mechanisms)}"
        )
    from pkcs11 import Attribute
    from pkcs11.util.ec import encode_named_curve_parameters

    key_type, curve, _mechanism, _prehash = mechanisms[algorithm]
    template: dict[Any, Any] = {Attribute.TOKEN: True}
    if "object" in parsed.path:
        template[Attribute.LABEL] = parsed.path["object"]
    if parsed.key_id_bytes is not None:
        template[Attribute.ID] = parsed.key_id_bytes
    key, _login_state, token = _login(parsed)
    try:
        # Logged in already (process-wide), so a plain read-write session may make objects.
        with token.open(rw=True) as session:
            params = session.create_domain_parameters(
                key_type, {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True
            )
            pub, _priv = params.generate_keypair(
                store=True,
                public_template=template,
                private_template={
                    **template,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                },
            )
            return _public_key(pub)
    finally:
        _logout(key)
