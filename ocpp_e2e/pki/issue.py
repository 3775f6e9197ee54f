"""SPEC §5 certificate issuance: a self-signed root, sub-CAs per domain, and leaf certificates.

A certificate authority never grants more than it holds: a sub-CA's or a leaf's usages must be a
subset of the issuing CA's effective usages, and a sub-CA's path length must fit under its
issuer's. Both are refused here, at issuance, not only later at validation.

>>> from datetime import UTC, datetime, timedelta
>>> from ocpp_e2e.keys import generate_private_key
>>> start = datetime(2026, 11, 22, 10, tzinfo=UTC)
>>> root = create_root(generate_private_key("ES256"), "demo-root", valid_for=timedelta(days=1),
...                    not_before=start)
>>> cert = root.issue(generate_private_key().public_key(), identity="cs-0001",
...                   usages=["chargingStation"], valid_for=timedelta(hours=1), not_before=start)
>>> certificate_identities(cert)
['cs-0001']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import NameOID

from .._b64 import Base64Error, pem_blocks
from .._der import UNREADABLE_CERTIFICATE
from ..algorithms import ALGORITHMS, PrivateKey, PublicKey, algorithm_of
from ..errors import KeyLoadError, PKIError
from ..keys import KeySigner, Signer, load_signer, load_spki, spki_der
from .usages import (
    ALL_USAGES,
    KEY_AGREEMENT_OID,
    KEY_AGREEMENT_USAGE,
    USAGE_NAMES,
    USAGE_OIDS,
    check_usages,
    sorted_usages,
)

__all__ = [
    "IDENTITY_PREFIX",
    "MAX_PATH_LENGTH",
    "CertificateAuthority",
    "can_certify",
    "certificate_identities",
    "certificate_name",
    "certificate_pem",
    "certificate_usages",
    "create_root",
    "load_certificates",
    "load_certificates_file",
]

# Keys X.509 tooling handles (the algorithms whose row has ``certificates``).
_CertPublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
_CertPrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey

#: SPEC §5 identity: the single SAN URI with this prefix.
IDENTITY_PREFIX = "urn:ocpp-e2e:"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise PKIError(f"time {moment.isoformat()} has no time zone; give an aware UTC datetime")
    return moment.astimezone(UTC)


@cache
def _placeholder(algorithm: str) -> _CertPrivateKey:
    """A throwaway key of ``algorithm``: cryptography's builders sign only with their own keys, so
    a certificate or CRL is drafted under this key (the same signature algorithm) and its
    signature then replaced by the CA signer's (which may live in a token)."""
    key = ALGORITHMS[algorithm].generate()
    assert isinstance(key, _CertPrivateKey)
    return key


def _signed_by(signer: Signer, draft: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    """``draft`` (signed by the placeholder) re-signed by ``signer``, as DER."""
    row = ALGORITHMS[signer.algorithm]
    if isinstance(draft, x509.Certificate):
        cert = asn1_x509.Certificate.load(draft.public_bytes(serialization.Encoding.DER))
        cert["signature_value"] = row.x509_signature(signer.sign(draft.tbs_certificate_bytes))
        return bytes(cert.dump(force=True))
    crl = asn1_crl.CertificateList.load(draft.public_bytes(serialization.Encoding.DER))
    crl["signature"] = row.x509_signature(signer.sign(draft.tbs_certlist_bytes))
    return bytes(crl.dump(force=True))


def _sign_certificate(builder: x509.CertificateBuilder, signer: Signer) -> x509.Certificate:
    row = ALGORITHMS[signer.algorithm]
    draft = builder.sign(_placeholder(row.name), row.hash() if row.hash else None)
    return x509.load_der_x509_certificate(_signed_by(signer, draft))


def _sign_crl(
    builder: x509.CertificateRevocationListBuilder, signer: Signer
) -> x509.CertificateRevocationList:
    row = ALGORITHMS[signer.algorithm]
    draft = builder.sign(_placeholder(row.name), row.hash() if row.hash else None)
    return x509.load_der_x509_crl(_signed_by(signer, draft))


def _ca_signer(key: PrivateKey | Signer) -> Signer:
    """A CA's key as a :class:`Signer`; refused (:class:`PKIError`) unless it may certify."""
    if isinstance(key, Signer):
        row = ALGORITHMS.get(key.algorithm)
        if row is None or not row.certificates:
            raise _not_certifiable(load_spki(key.public_key_der))
        return key
    return KeySigner(_certifying(key))


def can_certify(key: object) -> bool:
    """Whether X.509 certificates may carry ``key`` and be signed by it (SPEC §1, §5)."""
    try:
        return algorithm_of(key).certificates
    except KeyLoadError:
        return False


def _not_certifiable(key: object) -> PKIError:
    try:
        name = algorithm_of(key).name
    except KeyLoadError as exc:
        return PKIError(str(exc))
    usable = ", ".join(n for n, r in ALGORITHMS.items() if r.certificates)
    return PKIError(
        f"{name} keys cannot be certified: X.509 tooling does not support them yet (SPEC §1); "
        f"keep such a key in a keyring, or use {usable}"
    )


def _certifiable(key: PublicKey) -> _CertPublicKey:
    """``key`` when X.509 certificates may carry it (SPEC §5); else a clear :class:`PKIError`."""
    if isinstance(key, _CertPublicKey) and can_certify(key):
        return key
    raise _not_certifiable(key)


def _certifying(key: PrivateKey) -> _CertPrivateKey:
    """``key`` when it may sign certificates and CRLs; else a clear :class:`PKIError`."""
    if isinstance(key, _CertPrivateKey) and can_certify(key):
        return key
    raise _not_certifiable(key)


#: The largest pathLen this CA writes: more says nothing a chain of SPEC §1 could use, and X.509
#: libraries refuse values that do not fit their integers.
MAX_PATH_LENGTH = 255


def _end(start: datetime, valid_for: timedelta) -> datetime:
    """``start + valid_for``, or a :class:`PKIError` when that is past the calendar (year 9999)."""
    try:
        return start + valid_for
    except OverflowError:
        raise PKIError(
            f"a validity of {valid_for} from {start:%Y-%m-%dT%H:%M:%SZ} ends beyond the calendar "
            "(year 9999); shorten it"
        ) from None


def _check_identity(identity: str) -> None:
    if not identity or any(c.isspace() or not c.isprintable() for c in identity):
        raise PKIError(f"identity {identity!r} must be non-empty printable text without spaces")


def _eku(usages: Iterable[str], key_agreement: bool = False) -> x509.ExtendedKeyUsage:
    oids = [USAGE_OIDS[name] for name in sorted_usages(usages)]
    return x509.ExtendedKeyUsage([*oids, KEY_AGREEMENT_OID] if key_agreement else oids)


def _has_key_agreement(cert: x509.Certificate) -> bool | None:
    """Whether the certificate's EKU holds usage keyAgreement; None when it has no EKU."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return KEY_AGREEMENT_OID in eku


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def certificate_usages(cert: x509.Certificate) -> frozenset[str] | None:
    """The domain usage names in a certificate's own EKU; None when it has no EKU extension.

    Non-domain OIDs (and anyExtendedKeyUsage) are ignored: they grant no domain usage (SPEC §5).
    """
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return frozenset(USAGE_NAMES[oid] for oid in eku if oid in USAGE_NAMES)


def certificate_identities(cert: x509.Certificate) -> list[str]:
    """Every ``urn:ocpp-e2e:`` identity among a certificate's SAN URIs (SPEC §5 wants one)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [
        uri[len(IDENTITY_PREFIX) :]
        for uri in san.get_values_for_type(x509.UniformResourceIdentifier)
        if uri.startswith(IDENTITY_PREFIX)
    ]


def _path_length(cert: x509.Certificate) -> int | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length
    except x509.ExtensionNotFound:
        return None


class CertificateAuthority:
    """A CA certificate with its private key, able to issue sub-CAs and leaves.

    ``chain`` is the CA's own certificate followed by the intermediates above it, up to but not
    including the trust anchor (what a leaf's ``chain.pem`` appends after the leaf). A root's chain
    is empty.
    """

    def __init__(
        self,
        certificate: x509.Certificate,
        private_key: PrivateKey | Signer,
        chain: Sequence[x509.Certificate] = (),
    ) -> None:
        signer = _ca_signer(private_key)
        if spki_der(certificate.public_key()) != signer.public_key_der:  # type: ignore[arg-type]
            raise PKIError(
                f"CA '{certificate_name(certificate)}': the private key does not match "
                "the certificate"
            )
        self.certificate = certificate
        self._signer = signer
        self._public = _certifiable(load_spki(signer.public_key_der))
        self.is_root = certificate.issuer == certificate.subject
        own_chain = tuple(chain) or (certificate,)
        self.chain: tuple[x509.Certificate, ...] = () if self.is_root else own_chain
        if self.chain and self.chain[0] != certificate:
            raise PKIError(
                f"CA '{certificate_name(certificate)}': its chain must start with "
                "its own certificate"
            )

    @property
    def name(self) -> str:
        """The CA's common name (display only)."""
        return certificate_name(self.certificate)

    @property
    def usages(self) -> frozenset[str]:
        """The domain usages this CA can grant: the intersection of the EKUs along its chain.

        A root (trust anchor) without EKU holds every usage; any other certificate without EKU
        holds none (SPEC §5).
        """
        held = ALL_USAGES
        for cert in self.chain or (self.certificate,):
            own = certificate_usages(cert)
            if own is None:
                if cert.issuer != cert.subject:
                    return frozenset()
                continue
            held = held & own
        return held

    @property
    def grants_key_agreement(self) -> bool:
        """Whether this CA may issue key-agreement certificates (docs/esp.md §9.7): usage
        keyAgreement in the EKU of every certificate of its chain, but an EKU-less root's."""
        for cert in self.chain or (self.certificate,):
            held = _has_key_agreement(cert)
            if held is None and cert.issuer != cert.subject:
                return False
            if held is False:
                return False
        return True

    @property
    def path_length(self) -> int | None:
        """The CA's basicConstraints pathLen (None: unlimited)."""
        return _path_length(self.certificate)

    @property
    def not_after(self) -> datetime:
        """End of the CA certificate's validity; nothing it issues may outlive it."""
        return self.certificate.not_valid_after_utc

    # -- issuing

    def _validity(
        self, not_before: datetime, valid_for: timedelta
    ) -> tuple[datetime, datetime]:
        start = _utc(not_before)
        if valid_for <= timedelta(0):
            raise PKIError(f"validity must be positive, got {valid_for}")
        end = _end(start, valid_for)
        if start < self.certificate.not_valid_before_utc or end > self.not_after:
            ca_start = self.certificate.not_valid_before_utc
            raise PKIError(
                f"requested validity {start:%Y-%m-%dT%H:%M:%SZ} .. {end:%Y-%m-%dT%H:%M:%SZ} is not "
                f"within CA '{self.name}' validity {ca_start:%Y-%m-%dT%H:%M:%SZ}"
                f" .. {self.not_after:%Y-%m-%dT%H:%M:%SZ}; shorten it"
            )
        return start, end

    def _grantable(self, usages: Iterable[str], what: str) -> frozenset[str]:
        wanted = check_usages(usages)
        missing = wanted - self.usages
        if missing:
            raise PKIError(
                f"CA '{self.name}' cannot grant {', '.join(sorted_usages(missing))} to {what}: "
                f"it holds only {', '.join(sorted_usages(self.usages)) or 'no usage'}"
            )
        return wanted

    def _builder(
        self, subject: x509.Name, public_key: PublicKey, start: datetime, end: datetime
    ) -> x509.CertificateBuilder:
        return self._builder_of(subject, _certifiable(public_key), start, end)

    def _builder_of(
        self,
        subject: x509.Name,
        key: _CertPublicKey | x25519.X25519PublicKey,
        start: datetime,
        end: datetime,
    ) -> x509.CertificateBuilder:
        """A certificate of ``key`` (checked by the caller) issued by this CA, no extensions but
        the key identifiers."""
        ski = x509.SubjectKeyIdentifier.from_public_key(key)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._public),
                critical=False,
            )
        )

    def _sign(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        return _sign_certificate(builder, self._signer)

    def issue_ca(
        self,
        public_key: PublicKey,
        name: str,
        usages: Iterable[str],
        *,
        valid_for: timedelta,
        path_length: int = 0,
        not_before: datetime,
        key_agreement: bool = False,
    ) -> x509.Certificate:
        """Issue a sub-CA with ``usages`` (a subset of this CA's) and ``path_length``.

        ``key_agreement=True`` also lets the sub-CA issue key-agreement certificates (usage
        keyAgreement, docs/esp.md §9.7); this CA must hold that usage itself.
        """
        if key_agreement and not self.grants_key_agreement:
            raise PKIError(
                f"CA '{self.name}' cannot grant {KEY_AGREEMENT_USAGE} to sub-CA '{name}': "
                "it does not hold it"
            )
        if not 0 <= path_length <= MAX_PATH_LENGTH:
            raise PKIError(
                f"path length must be 0 to {MAX_PATH_LENGTH}, got {path_length} (a SPEC §1 "
                "chain holds at most 4 certificates)"
            )
        own = self.path_length
        if own is not None and path_length >= own:
            if own == 0:
                raise PKIError(
                    f"CA '{self.name}' has pathLen 0: it may issue leaves only, not sub-CAs"
                )
            raise PKIError(
                f"CA '{self.name}' has pathLen {own}: "
                f"a sub-CA it issues may have pathLen at most {own - 1}"
            )
        granted = self._grantable(usages, f"sub-CA '{name}'")
        if not granted and not key_agreement:
            raise PKIError(f"sub-CA '{name}' needs at least one usage")
        start, end = self._validity(not_before, valid_for)
        builder = (
            self._builder(_name(name), public_key, start, end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(_key_usage(certify=True), critical=True)
            .add_extension(_eku(granted, key_agreement), critical=False)
        )
        return self._sign(builder)

    def issue(
        self,
        public_key: PublicKey,
        identity: str,
        usages: Iterable[str],
        *,
        valid_for: timedelta,
        not_before: datetime,
        common_name: str | None = None,
    ) -> x509.Certificate:
        """Issue a leaf certificate for ``identity`` (SAN ``urn:ocpp-e2e:<identity>``)."""
        _check_identity(identity)
        granted = self._grantable(usages, f"leaf '{identity}'")
        if not granted:
            raise PKIError(f"leaf '{identity}' needs at least one usage")
        start, end = self._validity(not_before, valid_for)
        builder = self._builder(_name(common_name or identity), public_key, start, end)
        return self._sign(_leaf(builder, _key_usage(sign=True), _eku(granted), identity))

    def issue_key_agreement(
        self,
        public_key: x25519.X25519PublicKey,
        identity: str,
        *,
        valid_for: timedelta,
        not_before: datetime,
        common_name: str | None = None,
    ) -> x509.Certificate:
        """Issue a key-agreement certificate for an X25519 ESP recipient key (docs/esp.md §9.7).

        keyUsage ``keyAgreement`` only, EKU ``keyAgreement`` (.12) only, the SAN identity of SPEC
        §5. An X25519 key cannot sign, so it cannot certify itself: a CA always issues it.
        """
        if not isinstance(public_key, x25519.X25519PublicKey):
            raise PKIError(
                f"a key-agreement certificate certifies an X25519 key, not a {type(public_key).__name__}"
            )
        _check_identity(identity)
        if not self.grants_key_agreement:
            raise PKIError(
                f"CA '{self.name}' cannot grant {KEY_AGREEMENT_USAGE} to leaf '{identity}': it "
                "does not hold it (issue the CA with key agreement)"
            )
        start, end = self._validity(not_before, valid_for)
        builder = self._builder_of(_name(common_name or identity), public_key, start, end)
        usage = _key_usage(agree=True)
        return self._sign(_leaf(builder, usage, _eku((), key_agreement=True), identity))

    def issue_crl(
        self,
        revoked: Iterable[tuple[int, datetime, x509.ReasonFlags | None]],
        *,
        number: int,
        this_update: datetime,
        next_update: timedelta = timedelta(days=7),
    ) -> x509.CertificateRevocationList:
        """Sign an X.509 CRL listing ``(serial, revocation time, reason)`` entries."""
        start = _utc(this_update)
        if next_update <= timedelta(0):
            raise PKIError(f"a CRL's next update must be later than its issue, not {next_update}")
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(start)
            .next_update(_end(start, next_update))
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._public),
                critical=False,
            )
        )
        for serial, when, reason in revoked:
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            if reason is not None:
                entry = entry.add_extension(x509.CRLReason(reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return _sign_crl(builder, self._signer)

    def chain_for(self, certificate: x509.Certificate) -> list[x509.Certificate]:
        """``certificate`` followed by this CA's chain: what a signer attaches (anchor excluded)."""
        return [certificate, *self.chain]

    def sub_authority(
        self, certificate: x509.Certificate, private_key: PrivateKey | Signer
    ) -> CertificateAuthority:
        """The :class:`CertificateAuthority` of a sub-CA this CA issued."""
        return CertificateAuthority(certificate, private_key, self.chain_for(certificate))

    # -- files

    @classmethod
    def load(
        cls, cert_path: Path | str, key_path: Path | str, password: bytes | None = None
    ) -> CertificateAuthority:
        """Load a CA from its certificate PEM and key PEM.

        The certificate file may hold the CA certificate followed by its intermediates; when a
        ``<stem>.chain.pem`` sits beside a ``<stem>.crt.pem`` it is used as the chain.
        """
        cert_path = Path(cert_path)
        certs = load_certificates_file(cert_path)
        chain_path = _chain_beside(cert_path)
        if len(certs) == 1 and chain_path is not None and chain_path.exists():
            certs = load_certificates_file(chain_path)
        try:
            key = load_signer(str(key_path), password)
        except KeyLoadError as exc:
            raise PKIError(str(exc)) from exc
        cert = certs[0]
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            bc = None
        if bc is None or not bc.ca:
            raise PKIError(
                f"{cert_path}: '{certificate_name(cert)}' is not a CA certificate (no CA:TRUE)"
            )
        try:
            return cls(cert, key, certs)
        except PKIError as exc:
            raise PKIError(f"{cert_path}: {exc}") from exc


def create_root(
    private_key: PrivateKey | Signer,
    name: str,
    *,
    valid_for: timedelta,
    usages: Iterable[str] | None = None,
    path_length: int | None = None,
    not_before: datetime,
    key_agreement: bool = False,
) -> CertificateAuthority:
    """Create a self-signed root (a trust anchor) and return it as a :class:`CertificateAuthority`.

    Without ``usages`` the root has no EKU and so may grant every domain usage (SPEC §5: only the
    trust anchor may lack an EKU) and key agreement; with ``usages`` it is restricted to them, and
    to key agreement only when ``key_agreement`` is true.
    """
    signer = _ca_signer(private_key)
    start = _utc(not_before)
    if valid_for <= timedelta(0):
        raise PKIError(f"validity must be positive, got {valid_for}")
    if path_length is not None and not 0 <= path_length <= MAX_PATH_LENGTH:
        raise PKIError(
            f"path length must be 0 to {MAX_PATH_LENGTH}, got {path_length} (a SPEC §1 chain "
            "holds at most 4 certificates)"
        )
    pub = _certifiable(load_spki(signer.public_key_der))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(_end(start, valid_for))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(certify=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
    )
    if usages is not None:
        granted = check_usages(usages)
        if not granted and not key_agreement:
            raise PKIError("a root restricted by usages needs at least one; omit usages for all")
        builder = builder.add_extension(_eku(granted, key_agreement), critical=False)
    return CertificateAuthority(_sign_certificate(builder, signer), signer)


def _leaf(
    builder: x509.CertificateBuilder,
    usage: x509.KeyUsage,
    eku: x509.ExtendedKeyUsage,
    identity: str,
) -> x509.CertificateBuilder:
    """The extensions of every leaf (SPEC §5): not a CA, its key usage and EKU, and its identity
    as the SAN URI ``urn:ocpp-e2e:<identity>``."""
    return (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(eku, critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(IDENTITY_PREFIX + identity)]
            ),
            critical=False,
        )
    )


def _key_usage(*, sign: bool = False, agree: bool = False, certify: bool = False) -> x509.KeyUsage:
    """The X.509 key usage of a certificate this PKI issues: a signing leaf (``sign``), a
    key-agreement leaf (``agree``) or a CA (``certify``: certificates and CRLs)."""
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=agree,
        key_cert_sign=certify,
        crl_sign=certify,
        encipher_only=False,
        decipher_only=False,
    )


def certificate_name(cert: x509.Certificate) -> str:
    """The certificate's common name (display only; SPEC §5 identity is the SAN URI)."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = cns[0].value if cns else cert.subject.rfc4514_string()
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _chain_beside(cert_path: Path) -> Path | None:
    if cert_path.name.endswith(".crt.pem"):
        return cert_path.with_name(cert_path.name[: -len(".crt.pem")] + ".chain.pem")
    return None


# --------------------------------------------------------------------------- PEM/DER files


def certificate_pem(certs: Iterable[x509.Certificate]) -> bytes:
    """Concatenated PEM of certificates, in the order given."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def load_certificates(data: bytes, *, source: str = "certificate") -> list[x509.Certificate]:
    """Load one or more certificates from PEM (several allowed) or a single DER certificate."""
    try:
        if b"-----BEGIN" in data:
            # Strict PEM: CERTIFICATE blocks and whitespace only; trailing text is refused.
            ders = []
            for label, der in pem_blocks(data):
                if label != "CERTIFICATE":
                    raise Base64Error(f"a PEM block {label} where a CERTIFICATE was expected")
                ders.append(der)
        else:
            ders = [data]
        certs = [x509.load_der_x509_certificate(der) for der in ders]
    except UNREADABLE_CERTIFICATE as exc:  # also Base64Error
        raise PKIError(f"{source}: not a PEM or DER X.509 certificate ({exc})") from exc
    if not certs:
        raise PKIError(f"{source}: holds no certificate")
    return certs


def load_certificates_file(path: Path | str) -> list[x509.Certificate]:
    """Load the certificates of a PEM or DER file; errors name the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PKIError(f"{path}: cannot read certificate file ({exc.strerror})") from exc
    return load_certificates(data, source=str(path))
