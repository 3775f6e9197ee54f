"""A readable summary of a certificate: usage names instead of OIDs, identity, CA constraints.

>>> from pathlib import Path
>>> from ocpp_e2e.pki import load_certificates_file
>>> cert = load_certificates_file("keys-example/grid-operator.crt.pem")[0]
>>> summary = certificate_summary(cert)
>>> summary["identity"], summary["usages"], summary["ca"]
('dso-example', ['gridOperator'], False)
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..algorithms import algorithm_of
from ..errors import KeyLoadError
from ..keys import key_id
from .issue import certificate_identities, certificate_name
from .usages import KEY_AGREEMENT_OID, KEY_AGREEMENT_USAGE, USAGE_NAMES, sorted_usages

__all__ = [
    "certificate_summary",
]

_TIME = "%Y-%m-%dT%H:%M:%SZ"
_KEY_USAGE_FLAGS = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "contentCommitment"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)


def _key_algorithm(cert: x509.Certificate) -> str:
    pub = cert.public_key()
    try:
        return algorithm_of(pub).name
    except KeyLoadError:
        return type(pub).__name__


def certificate_summary(cert: x509.Certificate) -> dict[str, Any]:
    """A JSON-ready description of ``cert`` for people: names, not OIDs; never key material.

    ``usages`` lists SPEC §5 usage names (None when the certificate has no EKU at all);
    ``otherExtendedKeyUsages`` lists any other EKU OIDs, which grant no domain usage.
    """
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        bc: x509.BasicConstraints | None = cert.extensions.get_extension_for_class(
            x509.BasicConstraints
        ).value
    except x509.ExtensionNotFound:
        bc = None
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        key_usage: list[str] | None = [name for attr, name in _KEY_USAGE_FLAGS if getattr(ku, attr)]
    except x509.ExtensionNotFound:
        key_usage = None
    try:
        eku = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
        named = sorted_usages(USAGE_NAMES[o] for o in eku if o in USAGE_NAMES)
        if KEY_AGREEMENT_OID in eku:  # docs/esp.md §9.7: an ESP recipient key
            named.append(KEY_AGREEMENT_USAGE)
        usages: list[str] | None = named
        others = [o.dotted_string for o in eku if o not in USAGE_NAMES and o != KEY_AGREEMENT_OID]
    except x509.ExtensionNotFound:
        usages, others = None, []
    identities = certificate_identities(cert)
    return {
        "name": certificate_name(cert),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "notBefore": cert.not_valid_before_utc.strftime(_TIME),
        "notAfter": cert.not_valid_after_utc.strftime(_TIME),
        "identity": identities[0] if len(identities) == 1 else None,
        "identities": identities,
        "usages": usages,
        "otherExtendedKeyUsages": others,
        "ca": bool(bc and bc.ca),
        "pathLength": bc.path_length if bc and bc.ca else None,
        "keyUsage": key_usage,
        "keyAlgorithm": _key_algorithm(cert),
        "keyId": key_id(spki),
        "sha256": hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
        "selfSigned": cert.issuer == cert.subject,
    }
