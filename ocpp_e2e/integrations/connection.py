"""OCPP-J connection security: connection URLs, subprotocols, HTTP Basic ``AuthorizationKey``.

This module implements the connection rules of the OCPP-J 1.6 specification (2015-10-08 final
release) that every deployment has to get right before any message signature matters:

* §3.1.1 the connection URL is the CSMS endpoint URL with ``/`` and the percent-encoded charge
  point identity appended (``RDAM 123`` becomes ``.../RDAM%20123``);
* §3.1.2 / §3.2 the OCPP version is negotiated as a WebSocket subprotocol (``ocpp1.6``,
  ``ocpp2.0.1``, ``ocpp2.1``); an unknown identity is refused with HTTP 404 *before* the WebSocket
  upgrade; without a common subprotocol the server completes the handshake without a
  ``Sec-WebSocket-Protocol`` header and closes at once;
* §6.2.2 charge point authentication with HTTP Basic (RFC 7617): the user is the charge point
  identity, the password is the *raw* 20-byte authorization key (the spec's example, identity
  ``AL1000`` with key ``0001020304050607FFFFFFFFFFFFFFFFFFFFFFFF``, gives
  ``Basic QUwxMDAwOgABAgMEBQYH////////////////``). Over OCPP the key travels as its 40-character
  hexadecimal form in ``ChangeConfiguration`` ``AuthorizationKey``. The CSMS stores it hashed with a
  unique salt by a password hashing function (here scrypt) and, once the station answered
  ``Accepted``, no longer accepts the old key.

>>> key = generate_authorization_key()
>>> creds = parse_basic_auth(basic_auth_header("RDAM 123", key))
>>> creds.identity, creds.password == key
('RDAM 123', True)
>>> connection_url("wss://csms.example.com/ocppj", "RDAM 123")
'wss://csms.example.com/ocppj/RDAM%20123'
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import http
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, unquote_to_bytes, urlsplit, urlunsplit

from .._b64 import b64url_decode, b64url_encode
from ..context import normalize_station
from ..errors import ConnectionSetupError
from ..versions import VERSIONS

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection
    from websockets.http11 import Request, Response
    from websockets.typing import Subprotocol

__all__ = [
    "AUTHORIZATION_KEY_BYTES",
    "SUBPROTOCOLS",
    "Admission",
    "AuthorizationKeyStore",
    "BasicCredentials",
    "ScryptParameters",
    "StoredKey",
    "admit",
    "authorization_key_hex",
    "basic_auth_header",
    "choose_subprotocol",
    "client_subprotocols",
    "connection_url",
    "generate_authorization_key",
    "identity_from_path",
    "negotiated_ocpp",
    "ocpp_version",
    "parse_authorization_key",
    "parse_basic_auth",
    "request_guard",
    "subprotocol_for",
    "subprotocol_selector",
]

#: WebSocket subprotocol name -> OCPP version (OCPP-J 1.6 §3.1.2; OCPP 2.0.1 and 2.1 part 4).
SUBPROTOCOLS: Mapping[str, str] = {p.subprotocol: v for v, p in VERSIONS.items()}
_VERSION_SUBPROTOCOL = {v: k for k, v in SUBPROTOCOLS.items()}

#: Length of a generated authorization key: OCPP-J 1.6 §6.2.2 ("a 20-byte key").
AUTHORIZATION_KEY_BYTES = 20
#: Accepted key lengths when reading one: the OCPP 1.6 Security Whitepaper (edition 2) allows
#: 16 to 20 bytes of random binary.
_MIN_KEY_BYTES = 16


# --------------------------------------------------------------------------- subprotocols


def subprotocol_for(ocpp: str) -> str:
    """The WebSocket subprotocol name of an OCPP version.

    >>> subprotocol_for("2.0.1")
    'ocpp2.0.1'
    """
    try:
        return _VERSION_SUBPROTOCOL[ocpp]
    except KeyError:
        raise ConnectionSetupError(
            f"unknown OCPP version {ocpp!r}; expected one of {', '.join(_VERSION_SUBPROTOCOL)}"
        ) from None


def ocpp_version(subprotocol: str | None) -> str:
    """The OCPP version of a negotiated subprotocol; raises when none or an unknown one was agreed.

    >>> ocpp_version("ocpp1.6")
    '1.6'
    """
    if subprotocol is None:
        raise ConnectionSetupError("no OCPP subprotocol was negotiated on this connection")
    try:
        return SUBPROTOCOLS[subprotocol]
    except KeyError:
        raise ConnectionSetupError(
            f"subprotocol {subprotocol!r} is not an OCPP version; expected one of "
            f"{', '.join(SUBPROTOCOLS)}"
        ) from None


def choose_subprotocol(offered: Sequence[str], supported: Sequence[str]) -> str | None:
    """Pick the subprotocol for a connection, or None when there is no common one.

    The client lists its versions in order of preference (OCPP-J 1.6 §3.1.3: "with a preference
    for the former"), so the first offered one that the server supports wins.

    >>> choose_subprotocol(["ocpp2.0.1", "ocpp1.6"], ["ocpp1.6", "ocpp2.0.1"])
    'ocpp2.0.1'
    >>> choose_subprotocol(["ocpp1.5"], ["ocpp1.6"]) is None
    True
    """
    allowed = set(supported)
    for name in offered:
        if name in allowed:
            return name
    return None


def subprotocol_selector(
    supported: Sequence[str],
) -> Callable[[ServerConnection, Sequence[Subprotocol]], Subprotocol | None]:
    """A ``select_subprotocol`` callback for ``websockets.asyncio.server.serve``.

    Unlike websockets' default (an HTTP 400), it lets the handshake complete *without* a
    ``Sec-WebSocket-Protocol`` header when nothing matches, as OCPP-J 1.6 §3.2 requires; the
    connection handler then closes at once (see :func:`negotiated_ocpp`).
    """
    for name in supported:
        ocpp_version(name)
    chosen = tuple(supported)

    def select(
        connection: ServerConnection, subprotocols: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        return cast("Subprotocol | None", choose_subprotocol(subprotocols, chosen))

    return select


def client_subprotocols(*versions: str) -> list[Subprotocol]:
    """The ``subprotocols`` a charge point offers, in order of preference (for ``connect``).

    >>> client_subprotocols("2.0.1", "1.6")
    ['ocpp2.0.1', 'ocpp1.6']
    """
    if not versions:
        raise ConnectionSetupError("offer at least one OCPP version")
    return [cast("Subprotocol", subprotocol_for(v)) for v in versions]


def negotiated_ocpp(connection: ServerConnection | Any) -> str | None:
    """The OCPP version agreed on an open connection, or None (the handler must then close)."""
    name = getattr(connection, "subprotocol", None)
    return SUBPROTOCOLS.get(name) if isinstance(name, str) else None


# --------------------------------------------------------------------------- connection URL


def _check_identity(identity: str) -> None:
    if not identity:
        raise ConnectionSetupError("the charge point identity is empty")
    if "/" in identity:
        raise ConnectionSetupError(
            f"charge point identity {identity!r} contains '/'; it must be a single path segment"
        )
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in identity):
        raise ConnectionSetupError(
            f"charge point identity {identity!r} contains control characters"
        )


def connection_url(endpoint: str, identity: str) -> str:
    """The connection URL of a charge point (OCPP-J 1.6 §3.1.1).

    ``/`` and the percent-encoded identity are appended to the endpoint's path; every character
    outside RFC 3986 "unreserved" is encoded, so the identity is always one path segment. A
    trailing ``/`` of the endpoint is not doubled.

    >>> connection_url("ws://centralsystem.example.com/ocpp", "CP001")
    'ws://centralsystem.example.com/ocpp/CP001'
    """
    _check_identity(identity)
    parts = urlsplit(endpoint)
    if parts.scheme not in ("ws", "wss"):
        raise ConnectionSetupError(
            f"endpoint {endpoint!r}: an OCPP-J endpoint URL has the scheme ws or wss"
        )
    if parts.query or parts.fragment:
        raise ConnectionSetupError(
            f"endpoint {endpoint!r}: remove the query and fragment (the identity ends the path)"
        )
    path = parts.path.rstrip("/") + "/" + quote(identity, safe="")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def identity_from_path(path: str, prefix: str = "/") -> str:
    """Read the charge point identity back from a request path (the inverse of the URL rule).

    ``prefix`` is the endpoint path (``/ocpp``); the identity is the single segment after it,
    percent-decoded as UTF-8. Anything else (another prefix, more segments, an encoded ``/``,
    invalid UTF-8, an empty identity) raises :class:`ConnectionSetupError`; a CSMS answers 404.

    >>> identity_from_path("/ocppj/RDAM%20123", "/ocppj")
    'RDAM 123'
    """
    path = path.split("?", 1)[0]
    base = prefix.rstrip("/") + "/"
    if not path.startswith(base):
        raise ConnectionSetupError(f"path {path!r} is not below the OCPP-J endpoint {base!r}")
    segment = path[len(base) :]
    if not segment:
        raise ConnectionSetupError(f"path {path!r} names no charge point identity")
    if "/" in segment:
        raise ConnectionSetupError(f"path {path!r}: the identity must be one path segment")
    try:
        identity = unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        raise ConnectionSetupError(
            f"path {path!r}: the identity is not UTF-8 once percent-decoded"
        ) from None
    _check_identity(identity)
    return identity


# --------------------------------------------------------------------------- authorization keys


def generate_authorization_key() -> bytes:
    """A new random 20-byte authorization key (OCPP-J 1.6 §6.2.2), from the OS CSPRNG."""
    return secrets.token_bytes(AUTHORIZATION_KEY_BYTES)


def authorization_key_hex(key: bytes) -> str:
    """The value of ``ChangeConfiguration`` ``AuthorizationKey``: the key as 40 hex characters.

    Upper case, like the example of OCPP-J 1.6 §6.2.2; :func:`parse_authorization_key` reads both.

    >>> authorization_key_hex(bytes(range(20)))
    '000102030405060708090A0B0C0D0E0F10111213'
    """
    _check_key_length(key)
    return key.hex().upper()


def parse_authorization_key(text: str) -> bytes:
    """Decode an ``AuthorizationKey`` configuration value (hexadecimal, 16 to 20 bytes).

    >>> parse_authorization_key("0001020304050607FFFFFFFFFFFFFFFFFFFFFFFF")[:8].hex()
    '0001020304050607'
    """
    if len(text) % 2 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ConnectionSetupError(
            "AuthorizationKey: expected an even number of hexadecimal characters "
            f"(40 for a 20-byte key), got {len(text)} characters"
        )
    key = bytes.fromhex(text)
    _check_key_length(key)
    return key


def _check_key_length(key: bytes) -> None:
    if not _MIN_KEY_BYTES <= len(key) <= AUTHORIZATION_KEY_BYTES:
        raise ConnectionSetupError(
            f"AuthorizationKey: a key has {_MIN_KEY_BYTES} to {AUTHORIZATION_KEY_BYTES} bytes, "
            f"this one has {len(key)}"
        )


# --------------------------------------------------------------------------- HTTP Basic


@dataclass(frozen=True)
class BasicCredentials:
    """The user (charge point identity) and raw password bytes of an ``Authorization`` header."""

    identity: str
    password: bytes

    def __repr__(self) -> str:  # never print the password
        return (
            f"BasicCredentials(identity={self.identity!r}, password=<{len(self.password)} bytes>)"
        )


def basic_auth_header(identity: str, key: bytes) -> str:
    """The ``Authorization`` header value a charge point sends (OCPP-J 1.6 §6.2.2, RFC 7617).

    The password is the raw key bytes, not their hex form.

    >>> basic_auth_header("AL1000", bytes.fromhex("0001020304050607FFFFFFFFFFFFFFFFFFFFFFFF"))
    'Basic QUwxMDAwOgABAgMEBQYH////////////////'
    """
    _check_identity(identity)
    if ":" in identity:
        # RFC 7617 §2: the user-id cannot contain a colon.
        raise ConnectionSetupError(
            f"charge point identity {identity!r} contains ':', which HTTP Basic cannot carry"
        )
    _check_key_length(key)
    token = base64.b64encode(identity.encode("utf-8") + b":" + key).decode("ascii")
    return f"Basic {token}"


def parse_basic_auth(header: str) -> BasicCredentials:
    """Read an ``Authorization: Basic`` header strictly.

    The scheme is case-insensitive (RFC 7617 §2); the token must be canonical padded base64; the
    user-id ends at the first ``:`` and must be UTF-8; the password is returned as raw bytes (it is
    binary in OCPP 1.6 and must not be decoded as text).
    """
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise ConnectionSetupError(
            f"Authorization header: expected the Basic scheme, got {scheme[:20]!r}"
        )
    token = token.strip()
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        raise ConnectionSetupError("Authorization header: the Basic token is not base64") from None
    if base64.b64encode(raw).decode("ascii") != token:
        raise ConnectionSetupError("Authorization header: the Basic token is not canonical base64")
    user, sep, password = raw.partition(b":")
    if not sep:
        raise ConnectionSetupError("Authorization header: the Basic token has no ':' separator")
    try:
        identity = user.decode("utf-8")
    except UnicodeDecodeError:
        raise ConnectionSetupError("Authorization header: the user-id is not UTF-8") from None
    if not identity:
        raise ConnectionSetupError(
            "Authorization header: the user-id (charge point identity) is empty"
        )
    return BasicCredentials(identity, password)


# --------------------------------------------------------------------------- CSMS key store


@dataclass(frozen=True)
class ScryptParameters:
    """scrypt cost parameters (RFC 7914) stored beside every hash, so they can be raised later.

    The defaults (N=2^14, r=8, p=1: 16 MiB and a few tens of milliseconds per check) are the
    classic interactive-login setting of the scrypt paper. The key itself has 160 random bits, so
    the work factor is defence in depth, not what makes a leaked table useless; raise ``n`` if your
    keys may be shorter or human-chosen.
    """

    n: int = 2**14
    r: int = 8
    p: int = 1
    length: int = 32

    def derive(self, password: bytes, salt: bytes) -> bytes:
        """scrypt(password, salt) with these parameters."""
        return hashlib.scrypt(
            password,
            salt=salt,
            n=self.n,
            r=self.r,
            p=self.p,
            dklen=self.length,
            maxmem=256 * self.n * self.r + 1024 * 1024,
        )


@dataclass(frozen=True)
class StoredKey:
    """A salted scrypt hash of one station's authorization key (never the key itself)."""

    salt: bytes
    digest: bytes
    params: ScryptParameters

    def matches(self, password: bytes) -> bool:
        """Constant-time comparison of scrypt(password) with the stored digest."""
        return hmac.compare_digest(self.params.derive(password, self.salt), self.digest)

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": "scrypt",
            "n": self.params.n,
            "r": self.params.r,
            "p": self.params.p,
            "salt": b64url_encode(self.salt),
            "hash": b64url_encode(self.digest),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> StoredKey:
        if not isinstance(data, Mapping) or set(data) != {
            "algorithm",
            "n",
            "r",
            "p",
            "salt",
            "hash",
        }:
            raise ConnectionSetupError(
                "expected exactly the members algorithm, n, r, p, salt, hash", where
            )
        if data["algorithm"] != "scrypt":
            raise ConnectionSetupError(
                f"unknown algorithm {data['algorithm']!r}; expected scrypt", where
            )
        for name in ("n", "r", "p"):
            if type(data[name]) is not int or data[name] < 1:
                raise ConnectionSetupError(f"{name} must be a positive integer", where)
        try:
            salt = b64url_decode(data["salt"])
            digest = b64url_decode(data["hash"])
        except (ValueError, TypeError) as exc:
            raise ConnectionSetupError(f"salt/hash are not base64url: {exc}", where) from None
        return cls(salt, digest, ScryptParameters(data["n"], data["r"], data["p"], len(digest)))


class AuthorizationKeyStore:
    """The CSMS side of OCPP 1.6 Basic authentication: identities and their hashed keys.

    Identities are compared as SPEC §3 does for CONTEXT (percent-decoded, ASCII-lowercased), so
    ``CP1`` and ``cp1`` are one station and cannot hold two keys.

    >>> store = AuthorizationKeyStore(ScryptParameters(n=2**10))
    >>> key = generate_authorization_key()
    >>> store.set("CP001", key)
    >>> store.check("cp001", key), store.check("CP001", bytes(20)), "CP002" in store
    (True, False, False)
    """

    def __init__(self, params: ScryptParameters | None = None) -> None:
        self.params = params or ScryptParameters()
        self._keys: dict[str, StoredKey] = {}

    def set(self, identity: str, key: bytes) -> None:
        """Store (or replace) the key of a station; the old key stops working at once."""
        _check_identity(identity)
        _check_key_length(key)
        salt = secrets.token_bytes(16)
        self._keys[normalize_station(identity)] = StoredKey(
            salt, self.params.derive(key, salt), self.params
        )

    def remove(self, identity: str) -> None:
        """Forget a station: its connections get 404 from then on."""
        self._keys.pop(normalize_station(identity), None)

    def __contains__(self, identity: object) -> bool:
        return isinstance(identity, str) and normalize_station(identity) in self._keys

    def identities(self) -> Iterable[str]:
        """The normalized identities that hold a key."""
        return iter(sorted(self._keys))

    def check(self, identity: str, password: bytes) -> bool:
        """True when ``password`` is the current key of ``identity`` (constant-time compare).

        An unknown identity is checked against a dummy hash so it costs the same time.
        """
        stored = self._keys.get(normalize_station(identity))
        if stored is None:
            StoredKey(b"\0" * 16, b"\0" * self.params.length, self.params).matches(password)
            return False
        return stored.matches(password)

    # -- persistence

    def to_json(self) -> str:
        """The store as JSON (salted hashes only; safe to back up, still keep it private)."""
        doc = {"version": 1, "keys": {k: v.to_dict() for k, v in sorted(self._keys.items())}}
        return json.dumps(doc, indent=2) + "\n"

    def save(self, path: Path | str) -> None:
        """Write the store with owner-only permissions (0600)."""
        data = self.to_json().encode("utf-8")
        fd = os.open(Path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        try:
            os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR)
            os.write(fd, data)
        finally:
            os.close(fd)

    @classmethod
    def load(
        cls, path: Path | str, params: ScryptParameters | None = None
    ) -> AuthorizationKeyStore:
        """Read a store written by :meth:`save`; errors name the file and the entry."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise ConnectionSetupError(f"cannot read key store: {exc}", source=str(path)) from None
        if (
            not isinstance(doc, dict)
            or doc.get("version") != 1
            or not isinstance(doc.get("keys"), dict)
        ):
            raise ConnectionSetupError(
                'expected {"version": 1, "keys": {...}}', "$", source=str(path)
            )
        store = cls(params)
        for identity, entry in doc["keys"].items():
            try:
                store._keys[normalize_station(identity)] = StoredKey.from_dict(
                    entry, f"$.keys.{identity}"
                )
            except ConnectionSetupError as exc:
                raise exc.with_source(str(path)) from None
        return store


# --------------------------------------------------------------------------- websockets server


@dataclass(frozen=True)
class Admission:
    """Why the CSMS let a connection through or refused it (for logs and metrics)."""

    status: int
    reason: str
    identity: str | None = None


def admit(
    path: str,
    authorization: str | None,
    *,
    prefix: str,
    is_known: Callable[[str], bool],
    keys: AuthorizationKeyStore | None,
) -> Admission:
    """Decide on a WebSocket upgrade request: 404 unknown identity, 401 bad credentials, else 101.

    ``is_known`` says whether a charge point identity is registered (OCPP-J 1.6 §3.2: otherwise
    404). With ``keys``, HTTP Basic is required and checked (§6.2.2); without, no credentials are
    asked for (security profile 0, for networks secured otherwise).
    """
    try:
        identity = identity_from_path(path, prefix)
    except ConnectionSetupError as exc:
        return Admission(http.HTTPStatus.NOT_FOUND, str(exc))
    if not is_known(identity):
        return Admission(
            http.HTTPStatus.NOT_FOUND, f"unknown charge point identity {identity!r}", identity
        )
    if keys is None:
        return Admission(
            http.HTTPStatus.SWITCHING_PROTOCOLS,
            "known identity, no authentication configured",
            identity,
        )
    if authorization is None:
        return Admission(http.HTTPStatus.UNAUTHORIZED, "no Authorization header", identity)
    try:
        creds = parse_basic_auth(authorization)
    except ConnectionSetupError as exc:
        return Admission(http.HTTPStatus.UNAUTHORIZED, str(exc), identity)
    if creds.identity != identity:
        return Admission(
            http.HTTPStatus.UNAUTHORIZED,
            f"the Basic user {creds.identity!r} is not the identity of the URL {identity!r}",
            identity,
        )
    if not keys.check(identity, creds.password):
        return Admission(http.HTTPStatus.UNAUTHORIZED, "wrong authorization key", identity)
    return Admission(http.HTTPStatus.SWITCHING_PROTOCOLS, "authorization key accepted", identity)


def request_guard(
    *,
    prefix: str,
    is_known: Callable[[str], bool],
    keys: AuthorizationKeyStore | None = None,
    on_admission: Callable[[Admission], None] | None = None,
) -> Callable[[ServerConnection, Request], Any]:
    """A ``process_request`` callback for ``websockets.asyncio.server.serve`` running :func:`admit`.

    Refusals are answered before the upgrade (404, or 401 with ``WWW-Authenticate: Basic``); the
    scrypt check runs in a worker thread so it does not stall the event loop.

    >>> guard = request_guard(prefix="/ocpp", is_known=lambda ident: ident == "CP001")
    """

    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        authorization = request.headers.get("Authorization")
        admission = await asyncio.to_thread(
            admit, request.path, authorization, prefix=prefix, is_known=is_known, keys=keys
        )
        if on_admission is not None:
            on_admission(admission)
        if admission.status == http.HTTPStatus.SWITCHING_PROTOCOLS:
            return None
        response = connection.respond(admission.status, admission.reason + "\n")
        if admission.status == http.HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
        return response

    return process_request
