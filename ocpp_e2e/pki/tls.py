"""TLS certificates from the project's CAs, for the WebSocket endpoints (wss://) of a gateway or CSMS.

These are ordinary TLS certificates (RFC 5280 profile of the CA/Browser world): DNS names and IP
addresses in the subjectAltName, extended key usage ``serverAuth`` and/or ``clientAuth``. They carry
no SPEC §5 domain usage, so they can never sign OCPP messages; a station's client certificate may
name the station's identity (``urn:ocpp-e2e:<identity>``) besides.

>>> from datetime import UTC, datetime, timedelta
>>> from ocpp_e2e.keys import generate_private_key
>>> from ocpp_e2e.pki.issue import create_root
>>> start = datetime(2026, 11, 22, 10, tzinfo=UTC)
>>> ca = create_root(generate_private_key("ES256"), "tls-root", valid_for=timedelta(days=30),
...                  not_before=start)
>>> cert = issue_tls_certificate(ca, generate_private_key("ES256").public_key(),
...                              dns_names=["gateway.example.com"], ip_addresses=["127.0.0.1"],
...                              valid_for=timedelta(days=7), not_before=start)
>>> [e.dotted_string for e in cert.extensions.get_extension_for_class(
...     x509.ExtendedKeyUsage).value]
['1.3.6.1.5.5.7.3.1']
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import PKIError
from ..keys import PublicKey
from .issue import IDENTITY_PREFIX, CertificateAuthority, _key_usage

__all__ = [
    "issue_tls_certificate",
]


def issue_tls_certificate(
    ca: CertificateAuthority,
    public_key: PublicKey,
    *,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    identity: str | None = None,
    server: bool = True,
    client: bool = False,
    valid_for: timedelta,
    not_before: datetime,
) -> x509.Certificate:
    """Issue a TLS server and/or client certificate for the given names."""
    dns = list(dns_names)
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
    for text in ip_addresses:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError:
            raise PKIError(f"{text!r} is not an IP address") from None
    if identity is not None:
        names.append(x509.UniformResourceIdentifier(IDENTITY_PREFIX + identity))
    if not names:
        raise PKIError("a TLS certificate needs at least one DNS name, IP address or identity")
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] * server + [ExtendedKeyUsageOID.CLIENT_AUTH] * client
    if not usages:
        raise PKIError("a TLS certificate is for a server, a client or both")
    start, end = ca._validity(not_before, valid_for)
    common = dns[0] if dns else (identity or "tls")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])
    builder = (
        ca._builder(subject, public_key, start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
    )
    return ca._sign(builder)
