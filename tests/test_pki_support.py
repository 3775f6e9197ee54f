"""Shared builders for the PKI tests: certificates of any shape, including ones a CA would refuse.

The library's :class:`CertificateAuthority` refuses to issue bad certificates, so the negative
tests build them here with ``cryptography`` directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocpp_e2e.keys import PrivateKey, generate_private_key
from ocpp_e2e.pki import USAGE_OIDS

ROOT = Path(__file__).resolve().parent.parent
KEYS_EXAMPLE = ROOT / "keys-example"
DATA = Path(__file__).resolve().parent / "data" / "pki"

#: A fixed "now" for tests, well inside the demo hierarchy's validity (2026..2036).
T0 = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
START = datetime(2030, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)

_KU_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def key_usage(*names: str) -> x509.KeyUsage:
    return x509.KeyUsage(**{f: f in names for f in _KU_FIELDS})


@dataclass
class Cert:
    """A certificate with its private key (for CAs: to sign children)."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def _hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size == 384:
        return hashes.SHA384()
    return hashes.SHA256()  # P-256, and RSA for the tests that need a forbidden algorithm


def make_cert(
    name: str,
    *,
    issuer: Cert | None = None,
    key: PrivateKey | None = None,
    ca: bool | None = False,
    path_length: int | None = None,
    ku: Sequence[str] | None = None,
    usages: Sequence[str] | None = None,
    eku_oids: Sequence[x509.ObjectIdentifier] = (),
    identities: Sequence[str] | None = None,
    not_before: datetime = START,
    valid_for: timedelta = 5 * YEAR,
    extra: Sequence[x509.ExtensionType] = (),
    critical_extra: bool = True,
) -> Cert:
    """Build a certificate exactly as asked. Defaults: an Ed25519 leaf with digitalSignature.

    ``ca``: True/False writes basicConstraints, None leaves it out. ``usages`` None means no EKU.
    ``identities`` None means ``[name]`` for leaves and none for CAs.
    """
    key = key or generate_private_key("Ed25519")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_key = issuer.key if issuer else key
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + valid_for)
    )
    if ca is not None:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    if ku is None:
        ku = ("key_cert_sign", "crl_sign") if ca else ("digital_signature",)
    if ku:
        b = b.add_extension(key_usage(*ku), critical=True)
    if usages is not None or eku_oids:
        oids = [USAGE_OIDS[u] for u in usages or ()] + list(eku_oids)
        b = b.add_extension(x509.ExtendedKeyUsage(oids), critical=False)
    if identities is None:
        identities = [] if ca else [name]
    if identities:
        b = b.add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(f"urn:ocpp-e2e:{i}") for i in identities]
            ),
            critical=False,
        )
    for ext in extra:
        b = b.add_extension(ext, critical=critical_extra)
    return Cert(b.sign(signer_key, _hash(signer_key)), key)


def make_root(name: str = "test-root", **kw: object) -> Cert:
    return make_cert(name, ca=True, key=generate_private_key("ES256"), **kw)  # type: ignore[arg-type]


ANY_EKU = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def demo_chain(name: str) -> list[bytes]:
    """DER chain (leaf, sub-CA) of a keys-example leaf."""
    from ocpp_e2e.pki import pem_chain_der

    return pem_chain_der((KEYS_EXAMPLE / f"{name}.chain.pem").read_bytes())
