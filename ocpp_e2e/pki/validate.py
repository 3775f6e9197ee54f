"""SPEC §5 chain validation: :class:`ChainValidator` implements ``model.CertificateValidator``.

Why not ``cryptography.x509.verification``: its policy is the Web PKI one. It refuses Ed25519
certificate signatures ("Forbidden public key algorithm"), which SPEC §5 requires, and it has no
notion of usages intersected along the chain or of the ``urn:ocpp-e2e:`` identity. So the chain is
checked here, deliberately small and strict:

- the chain is leaf first, each certificate issued by the next (name and signature), at most 4
  certificates, ending at a configured trust anchor (included or not);
- certificate signatures are ECDSA P-256/384/521 with SHA-256/384/512, or Ed25519;
- CAs (intermediates and the anchor) have basicConstraints CA:TRUE, keyUsage keyCertSign and a
  pathLen that the chain below them respects; the leaf is not a CA and has digitalSignature;
- unknown critical extensions are refused (RFC 5280 §4.2);
- the leaf has exactly one SAN URI ``urn:ocpp-e2e:<identity>`` and an SPKI usable by SPEC §1;
- usages are the leaf's domain EKUs intersected with every CA's; only the anchor may lack an EKU;
- a certificate on a configured CRL (verified under its issuer's key) is revoked whatever the
  revocation date;
- every certificate is valid at the signature's time ``at`` and at ``now``.

The time-independent part (everything but the last point) is cached per chain, so verifying many
messages from one signer costs one dictionary look-up and four datetime comparisons.

>>> from datetime import UTC, datetime
>>> from pathlib import Path
>>> v = ChainValidator.from_files(["keys-example/root-ca.crt.pem"])
>>> chain = pem_chain_der(Path("keys-example/grid-operator.chain.pem").read_bytes())
>>> t = datetime(2027, 1, 1, tzinfo=UTC)
>>> result = v.validate(chain, at=t, now=t)
>>> result.ok, result.identity, sorted(result.usages)
(True, 'dso-example', ['gridOperator'])
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import ExtensionOID

from .._b64 import pem_one
from .._der import UNREADABLE_CERTIFICATE, certificate_spki
from ..algorithms import ALGORITHMS
from ..errors import KeyLoadError, PKIError
from ..keys import key_id, load_spki
from ..model import ChainResult
from .issue import (
    IDENTITY_PREFIX,
    can_certify,
    certificate_name,
    certificate_usages,
    load_certificates,
    load_certificates_file,
)
from .usages import (
    ALL_USAGES,
    KEY_AGREEMENT_OID,
    KEY_AGREEMENT_USAGE,
    USAGE_NAMES,
    sorted_usages,
)

__all__ = [
    "MAX_CHAIN",
    "SHORT_LIVED",
    "ChainValidator",
    "pem_chain_der",
]

#: SPEC §1: at most 4 certificates in ``certificates``.
MAX_CHAIN = 4
#: SPEC §5: certificates valid for at most this long may skip revocation.
SHORT_LIVED = timedelta(hours=72)

_SIGNATURE_ALGORITHMS = frozenset(r.x509_oid for r in ALGORITHMS.values() if r.x509_oid)
_UNDERSTOOD_CRITICAL = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    }
)
_TIME = "%Y-%m-%dT%H:%M:%SZ"


class _Refused(Exception):
    """Internal: a chain is untrusted; the message is the reason given to the user."""


@dataclass(frozen=True)
class _Window:
    label: str
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True)
class _Checked:
    """The time-independent verdict on one chain (what the cache keeps).

    ``result`` is returned as is when the times fit ``start``..``end`` (the intersection of every
    certificate's validity); ``windows`` explain a time failure certificate by certificate.
    """

    result: ChainResult
    windows: tuple[_Window, ...] = ()
    start: datetime | None = None
    end: datetime | None = None


def pem_chain_der(data: bytes) -> list[bytes]:
    """The DER of each certificate in a PEM bundle, in file order (e.g. a ``*.chain.pem``)."""
    return [c.public_bytes(serialization.Encoding.DER) for c in load_certificates(data)]


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _check_ca(cert: x509.Certificate, label: str) -> None:
    """CA:TRUE and keyCertSign, or raise :class:`_Refused`."""
    bc = _basic_constraints(cert)
    if bc is None or not bc.ca:
        raise _Refused(
            f"{label} is not a CA (no basicConstraints CA:TRUE) but issued a certificate"
        )
    ku = _key_usage(cert)
    if ku is None or not ku.key_cert_sign:
        raise _Refused(f"{label} lacks keyUsage keyCertSign, so it may not issue certificates")


def _extension_failure(cert: x509.Certificate, label: str) -> str | None:
    try:
        extensions = list(cert.extensions)
    except UNREADABLE_CERTIFICATE as exc:  # duplicate or undecodable extension
        return f"{label} has unreadable extensions ({exc})"
    for ext in extensions:
        if ext.critical and ext.oid not in _UNDERSTOOD_CRITICAL:
            return f"{label} has an unsupported critical extension {ext.oid.dotted_string}"
    return None


class ChainValidator:
    """Validates SPEC §5 certificate chains against trust anchors and optional CRLs.

    ``require_revocation`` makes a missing CRL an error: every certificate below the anchor must
    then be covered by a configured CRL of its issuer, except certificates valid for 72 hours or
    less (SPEC §5), which need none while ``now`` is within their validity. Whether or not it is
    set, a certificate listed on a configured CRL is revoked.

    >>> v = ChainValidator.from_files(["keys-example/root-ca.crt.pem"])
    >>> v.validate([b"junk"], at=datetime(2027, 1, 1), now=datetime(2027, 1, 1)).reason
    'signature time and now must be timezone-aware UTC datetimes'
    """

    def __init__(
        self,
        trust_anchors: Iterable[bytes | x509.Certificate],
        *,
        crls: Iterable[bytes | x509.CertificateRevocationList] = (),
        require_revocation: bool = False,
        cache_size: int = 1024,
    ) -> None:
        self._anchors: list[x509.Certificate] = []
        for i, item in enumerate(trust_anchors):
            cert = (
                item if isinstance(item, x509.Certificate) else _one(item, f"trust anchor {i + 1}")
            )
            try:
                label = f"trust anchor '{certificate_name(cert)}'"
                failure = _extension_failure(cert, label)
                if failure:
                    raise PKIError(failure)
                _check_ca(cert, label)
                _spki(cert)
            except _Refused as exc:
                raise PKIError(str(exc)) from exc
            except UNREADABLE_CERTIFICATE as exc:  # read lazily
                raise PKIError(f"trust anchor {i + 1} cannot be read ({exc})") from exc
            self._anchors.append(cert)
        if not self._anchors:
            raise PKIError("a chain validator needs at least one trust anchor")
        self._anchor_der = {a.public_bytes(serialization.Encoding.DER): a for a in self._anchors}
        self._crls: list[x509.CertificateRevocationList] = []
        for i, crl in enumerate(crls):
            if isinstance(crl, x509.CertificateRevocationList):
                self._crls.append(crl)
                continue
            try:
                if b"-----BEGIN" in crl:
                    # Strict PEM: one X509 CRL block; trailing text is refused, not ignored.
                    crl = pem_one(crl, "X509 CRL")
                self._crls.append(x509.load_der_x509_crl(crl))
            except ValueError as exc:  # also Base64Error
                raise PKIError(f"CRL {i + 1}: not a PEM or DER X.509 CRL ({exc})") from exc
        self._require_revocation = require_revocation
        self._cache: OrderedDict[tuple[bytes, ...], _Checked] = OrderedDict()
        self._key_agreement_cache: OrderedDict[tuple[bytes, ...], _Checked] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def from_files(
        cls,
        anchors: Iterable[Path | str],
        *,
        crls: Iterable[Path | str] = (),
        require_revocation: bool = False,
    ) -> ChainValidator:
        """Build from certificate files (each may hold several PEM anchors) and CRL files."""
        certs = [c for path in anchors for c in load_certificates_file(path)]
        crl_data: list[bytes] = []
        for path in crls:
            try:
                crl_data.append(Path(path).read_bytes())
            except OSError as exc:
                raise PKIError(f"{path}: cannot read CRL file ({exc.strerror})") from exc
        try:
            return cls(certs, crls=crl_data, require_revocation=require_revocation)
        except PKIError as exc:
            raise PKIError(f"{', '.join(str(p) for p in anchors)}: {exc}") from exc

    @property
    def trust_anchors(self) -> tuple[x509.Certificate, ...]:
        return tuple(self._anchors)

    # ----------------------------------------------------------------- the protocol method

    def validate(self, chain: Sequence[bytes], *, at: datetime, now: datetime) -> ChainResult:
        """Validate a DER chain (leaf first) at the signature time ``at`` and at ``now``.

        Never raises for bad input: a failure is ``ChainResult(ok=False, reason=...)``.
        """
        key = tuple(chain)
        if not all(type(der) is bytes for der in key):  # also keeps unhashable input out
            return ChainResult(False, "the chain must be a sequence of DER certificates (bytes)")
        checked = self._cache.get(key)
        if checked is None:
            checked = self._check(key)
            self._cache[key] = checked
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        if at.tzinfo is None or now.tzinfo is None:
            return ChainResult(False, "signature time and now must be timezone-aware UTC datetimes")
        # Fast path: one window (the intersection of all validities) and a prebuilt result.
        if checked.start is not None and checked.end is not None:
            if checked.start <= at <= checked.end and checked.start <= now <= checked.end:
                return checked.result
            return ChainResult(False, _time_failure(checked.windows, at, now))
        return checked.result

    def validate_key_agreement(self, chain: Sequence[bytes], *, now: datetime) -> ChainResult:
        """Validate the DER chain (leaf first) of an ESP key-agreement key at ``now``.

        The rules of SPEC §5, except at the leaf (docs/esp.md §9.7): an X25519 key, keyUsage
        ``keyAgreement`` without ``digitalSignature``, usage ``keyAgreement`` (OID suffix .12) in
        the leaf's EKU and in the EKU of every CA below the trust anchor. On success ``usages`` is
        ``{"keyAgreement"}``. Never raises for bad input.
        """
        key = tuple(chain)
        if not all(type(der) is bytes for der in key):
            return ChainResult(False, "the chain must be a sequence of DER certificates (bytes)")
        checked = self._key_agreement_cache.get(key)
        if checked is None:
            checked = self._check(key, key_agreement=True)
            self._key_agreement_cache[key] = checked
            if len(self._key_agreement_cache) > self._cache_size:
                self._key_agreement_cache.popitem(last=False)
        if now.tzinfo is None:
            return ChainResult(False, "now must be a timezone-aware UTC datetime")
        if checked.start is not None and checked.end is not None:
            if checked.start <= now <= checked.end:
                return checked.result
            return ChainResult(False, _time_failure(checked.windows, now, now))
        return checked.result

    # ----------------------------------------------------------------- time-independent part

    def _check(self, chain: tuple[bytes, ...], *, key_agreement: bool = False) -> _Checked:
        try:
            return self._check_chain(chain, key_agreement)
        except _Refused as exc:
            return _Checked(ChainResult(False, str(exc)))
        except UNREADABLE_CERTIFICATE as exc:
            # cryptography parses names, extensions and keys lazily: a certificate that loaded
            # can still hold a part that does not (an unknown curve, a broken extension, a name
            # attribute of an unknown string type, which raises KeyError when compared).
            detail = f"unknown ASN.1 string tag {exc}" if isinstance(exc, KeyError) else str(exc)
            return _Checked(
                ChainResult(False, f"a certificate of the chain cannot be read ({detail})")
            )

    def _check_chain(self, chain: tuple[bytes, ...], key_agreement: bool = False) -> _Checked:
        if not chain:
            raise _Refused("the certificates array is empty")
        if len(chain) > MAX_CHAIN:
            raise _Refused(
                f"{len(chain)} certificates in the chain; SPEC §1 allows at most {MAX_CHAIN}"
            )
        certs: list[x509.Certificate] = []
        for i, der in enumerate(chain):
            try:
                certs.append(x509.load_der_x509_certificate(der))
            except UNREADABLE_CERTIFICATE as exc:
                raise _Refused(
                    f"certificate {i + 1} is not a DER X.509 certificate ({exc})"
                ) from exc

        labels = [f"leaf '{certificate_name(certs[0])}'"]
        labels += [f"CA '{certificate_name(c)}'" for c in certs[1:]]
        for cert, label in zip(certs, labels, strict=True):
            failure = _extension_failure(cert, label)
            if failure:
                raise _Refused(failure)
        # Links: each certificate issued (name and signature) by the next one.
        for i in range(len(certs) - 1):
            self._check_link(certs[i], labels[i], certs[i + 1], labels[i + 1])
        # Then the trust anchor: the last certificate itself, or the anchor that issued it.
        anchor = self._anchor_der.get(chain[-1])
        if anchor is None:
            anchor = self._find_anchor(certs[-1])
            path = [*certs, anchor]
            labels.append(f"CA '{certificate_name(anchor)}'")
            self._check_link(certs[-1], labels[-2], anchor, labels[-1])
        else:
            path = certs
            if len(path) == 1:
                raise _Refused(
                    f"trust anchor '{certificate_name(anchor)}' used as a leaf certificate"
                )
        # CAs: CA:TRUE, keyCertSign, and pathLen counts the intermediates below each CA.
        for i in range(1, len(path)):
            _check_ca(path[i], labels[i])
            bc = _basic_constraints(path[i])
            assert bc is not None
            below = i - 1
            if bc.path_length is not None and below > bc.path_length:
                raise _Refused(
                    f"path length exceeded: {labels[i]} has pathLen {bc.path_length} "
                    f"but {below} CA certificate(s) follow it in the chain"
                )
        leaf = path[0]
        if key_agreement:
            leaf_spki, identity = _check_key_agreement_leaf(leaf, labels[0])
            usages, note = _key_agreement_usage(path, labels)
        else:
            leaf_spki, identity = self._check_leaf(leaf, labels[0])
            usages, note = _effective_usages(path, labels)
        short_lived = self._check_revocation(path, labels)
        if short_lived:
            note += " (short-lived, revocation not required)"
        windows = tuple(
            _Window(label, c.not_valid_before_utc, c.not_valid_after_utc)
            for c, label in zip(path, labels, strict=True)
        )
        result = ChainResult(
            True,
            f"chain of '{identity}' valid up to trust anchor '{certificate_name(path[-1])}'{note}",
            leaf_spki=leaf_spki,
            identity=identity,
            usages=usages,
            issuers=tuple(key_id(_spki(c)) for c in path[1:]),
            leaf_not_after=leaf.not_valid_after_utc,
        )
        return _Checked(
            result,
            windows=windows,
            start=max(w.not_before for w in windows),
            end=min(w.not_after for w in windows),
        )

    def _find_anchor(self, top: x509.Certificate) -> x509.Certificate:
        candidates = [a for a in self._anchors if a.subject == top.issuer]
        for anchor in candidates:
            try:
                top.verify_directly_issued_by(anchor)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                continue
            return anchor
        issuer = top.issuer.rfc4514_string()
        if candidates:
            raise _Refused(
                f"'{certificate_name(top)}' names issuer '{issuer}' but its signature does not "
                "verify under the trust anchor of that name (a different CA with the same name)"
            )
        raise _Refused(
            f"unknown root: the chain ends at '{certificate_name(top)}', issued by '{issuer}', "
            "which is not a configured trust anchor"
        )

    @staticmethod
    def _check_link(
        cert: x509.Certificate, label: str, issuer: x509.Certificate, issuer_label: str
    ) -> None:
        if cert.signature_algorithm_oid not in _SIGNATURE_ALGORITHMS:
            raise _Refused(
                f"{label} is signed with {cert.signature_algorithm_oid.dotted_string}; "
                "SPEC §5 allows ECDSA P-256/384/521 with SHA-256/384/512 or Ed25519"
            )
        pub = issuer.public_key()
        if not can_certify(pub):
            raise _Refused(
                f"{issuer_label} has a key SPEC §5 does not allow for certificate signing"
            )
        if cert.issuer != issuer.subject:
            raise _Refused(
                f"the chain is out of order: {label} names issuer "
                f"'{cert.issuer.rfc4514_string()}', not the next certificate {issuer_label}"
            )
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
            raise _Refused(f"{label}: signature by {issuer_label} does not verify") from exc

    @staticmethod
    def _check_leaf(leaf: x509.Certificate, label: str) -> tuple[bytes, str]:
        bc = _basic_constraints(leaf)
        if bc is not None and bc.ca:
            raise _Refused(
                f"{label} is a CA certificate (CA:TRUE) used as a leaf; "
                "sign with a leaf certificate"
            )
        ku = _key_usage(leaf)
        if ku is None or not ku.digital_signature:
            raise _Refused(f"{label} lacks keyUsage digitalSignature")
        identity = _leaf_identity(leaf, label)
        spki = _spki(leaf)
        try:
            load_spki(spki)
        except KeyLoadError as exc:
            raise _Refused(f"{label}: its public key is not usable ({exc})") from exc
        return spki, identity

    def _check_revocation(self, path: list[x509.Certificate], labels: list[str]) -> bool:
        """Refuse revoked certificates; returns True when the short-lived exemption was used."""
        exempted = False
        for i in range(len(path) - 1):
            cert, issuer = path[i], path[i + 1]
            covered = False
            for crl in self._crls:
                if crl.issuer != issuer.subject or not _crl_verifies(crl, issuer):
                    continue
                covered = True
                entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                if entry is not None:
                    raise _Refused(
                        f"{labels[i]} (serial {cert.serial_number:x}) is revoked by "
                        f"{labels[i + 1]} since {entry.revocation_date_utc.strftime(_TIME)}"
                    )
            if not covered and self._require_revocation:
                lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
                if lifetime <= SHORT_LIVED:
                    exempted = True
                    continue
                raise _Refused(
                    f"no CRL of {labels[i + 1]} is configured, so revocation of {labels[i]} "
                    "cannot be checked (only certificates valid 72 hours or less are exempt)"
                )
        return exempted


def _crl_verifies(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    pub = issuer.public_key()
    if not can_certify(pub) or not isinstance(
        pub, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
    ):
        return False
    try:
        return crl.is_signature_valid(pub)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False


def _effective_usages(
    path: list[x509.Certificate], labels: list[str]
) -> tuple[frozenset[str], str]:
    """Intersect EKUs leaf to anchor; raise when nothing is left, naming who dropped what."""
    leaf_usages = certificate_usages(path[0])
    if not leaf_usages:
        raise _Refused(
            f"{labels[0]} has no domain usage in its extended key usage "
            "(anyExtendedKeyUsage and other OIDs grant none)"
        )
    held = leaf_usages
    dropped: list[str] = []
    last = len(path) - 1
    for i in range(1, len(path)):
        own = certificate_usages(path[i])
        if own is None:
            if i == last:  # only the trust anchor may lack an EKU
                continue
            raise _Refused(
                f"{labels[i]} has no extended key usage, so it grants no usage to {labels[0]} "
                "(SPEC §5: only the trust anchor may lack one)"
            )
        lost = held - own
        if lost:
            names = ", ".join(sorted_usages(lost))
            if lost == held:
                holds = ", ".join(sorted_usages(own)) or "no domain usage"
                raise _Refused(
                    f"usage {names} of {labels[0]} not granted by {labels[i]} (it holds {holds})"
                )
            dropped.append(f"{names} not granted by {labels[i]}")
        held = held & own
    assert held <= ALL_USAGES
    return held, (f"; ignored: {'; '.join(dropped)}" if dropped else "")


def _time_failure(windows: Sequence[_Window], at: datetime, now: datetime) -> str:
    when_at = at.strftime(_TIME)
    when_now = now.strftime(_TIME)
    for w in windows:
        if at < w.not_before:
            return (
                f"{w.label} was not yet valid at the signature time {when_at} "
                f"(valid from {w.not_before.strftime(_TIME)})"
            )
        if at > w.not_after:
            return (
                f"{w.label} had expired at the signature time {when_at} "
                f"(valid until {w.not_after.strftime(_TIME)})"
            )
    for w in windows:
        if now > w.not_after:
            return (
                f"{w.label} expired at {w.not_after.strftime(_TIME)} and is no longer valid now "
                f"({when_now}); a signature dated {when_at} within its validity does not count"
            )
        if now < w.not_before:
            return (
                f"{w.label} is not yet valid now ({when_now}; valid from "
                f"{w.not_before.strftime(_TIME)}); check this machine's clock"
            )
    return "certificate validity could not be established"


def _spki(cert: x509.Certificate) -> bytes:
    """The certificate's SubjectPublicKeyInfo as encoded in it (not re-encoded: a compressed EC
    point must stay visible to :func:`~ocpp_e2e.keys.load_spki`, SPEC §1)."""
    return certificate_spki(cert.public_bytes(serialization.Encoding.DER))


def _one(data: bytes, source: str) -> x509.Certificate:
    certs = load_certificates(data, source=source)
    if len(certs) != 1:
        raise PKIError(f"{source}: holds {len(certs)} certificates; give one per anchor")
    return certs[0]


def _leaf_identity(leaf: x509.Certificate, label: str) -> str:
    """The single ``urn:ocpp-e2e:`` identity of a leaf (SPEC §5), or raise."""
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    ids = [u[len(IDENTITY_PREFIX) :] for u in uris if u.startswith(IDENTITY_PREFIX)]
    if not ids:
        raise _Refused(f"{label} has no identity: it needs one SAN URI {IDENTITY_PREFIX}<identity>")
    if len(ids) > 1:
        raise _Refused(
            f"{label} has {len(ids)} identities ({', '.join(ids)}); SPEC §5 allows exactly one "
            f"SAN URI {IDENTITY_PREFIX}<identity>"
        )
    if not ids[0]:
        raise _Refused(f"{label} has an empty identity in its SAN URI")
    return ids[0]


def _check_key_agreement_leaf(leaf: x509.Certificate, label: str) -> tuple[bytes, str]:
    """docs/esp.md §9.7: an X25519 key, keyUsage keyAgreement only, not a CA, one identity."""
    bc = _basic_constraints(leaf)
    if bc is not None and bc.ca:
        raise _Refused(f"{label} is a CA certificate (CA:TRUE) used as a key-agreement leaf")
    try:
        key = leaf.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _Refused(f"{label}: its public key cannot be read ({exc})") from exc
    if not isinstance(key, x25519.X25519PublicKey):
        raise _Refused(
            f"{label} certifies a {type(key).__name__}; a key-agreement certificate certifies an "
            "X25519 key"
        )
    ku = _key_usage(leaf)
    if ku is None or not ku.key_agreement:
        raise _Refused(f"{label} lacks keyUsage keyAgreement")
    if ku.digital_signature or ku.content_commitment or ku.key_cert_sign or ku.crl_sign:
        raise _Refused(
            f"{label} is a key-agreement certificate with a signing keyUsage; it may have "
            "keyAgreement only (RFC 8410)"
        )
    return _spki(leaf), _leaf_identity(leaf, label)


def _key_agreement_usage(
    path: list[x509.Certificate], labels: list[str]
) -> tuple[frozenset[str], str]:
    """Usage keyAgreement (.12) in the leaf's EKU and in every CA's but an EKU-less anchor's."""
    last = len(path) - 1
    for i, cert in enumerate(path):
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            if i == last and i > 0:  # only the trust anchor may lack an EKU
                continue
            raise _Refused(
                f"{labels[i]} has no extended key usage, so it does not grant "
                f"{KEY_AGREEMENT_USAGE} (SPEC §5: only the trust anchor may lack one)"
            ) from None
        if KEY_AGREEMENT_OID not in eku:
            raise _Refused(
                f"usage {KEY_AGREEMENT_USAGE} ({KEY_AGREEMENT_OID.dotted_string}) is not in the "
                f"extended key usage of {labels[i]}"
            )
        if i == 0:
            signing = [u for u in eku if u in USAGE_NAMES]
            if signing:
                names = ", ".join(sorted_usages(USAGE_NAMES[u] for u in signing))
                raise _Refused(
                    f"{labels[0]} mixes key agreement with signing usages ({names}); an X25519 "
                    "key never signs"
                )
    return frozenset({KEY_AGREEMENT_USAGE}), ""
