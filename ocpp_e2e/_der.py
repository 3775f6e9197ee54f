"""The SubjectPublicKeyInfo of an X.509 certificate exactly as it is encoded in the certificate.

``cryptography`` gives a certificate's key only as a key object, and re-encoding that object
turns a compressed EC point into an uncompressed one: the same key would then pass under two
encodings (two key ids, SPEC §1). The raw bytes read here let the strict SPKI check of
:func:`ocpp_e2e.keys.load_spki` see what the certificate really holds.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

_SEQUENCE = 0x30
_VERSION = 0xA0  # [0] EXPLICIT Version, optional


def _tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``pos``; ValueError if cut."""
    if pos + 2 > end:
        raise ValueError("truncated DER element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("DER tag numbers above 30 do not occur in a certificate header")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise ValueError("truncated DER element")
    return tag, pos, pos + length


def certificate_spki(der: bytes) -> bytes:
    """The DER of the certificate's ``subjectPublicKeyInfo`` as encoded (RFC 5280 §4.1).

    Raises ValueError when ``der`` is not shaped like a certificate.
    """
    tag, start, end = _tlv(der, 0, len(der))
    if tag != _SEQUENCE:
        raise ValueError("a certificate is a DER SEQUENCE")
    tag, pos, tbs_end = _tlv(der, start, end)  # TBSCertificate
    if tag != _SEQUENCE:
        raise ValueError("a TBSCertificate is a DER SEQUENCE")
    fields: list[tuple[int, int, int]] = []  # (tag, element start, element end)
    while pos < tbs_end and len(fields) < 7:
        tag, _content, element_end = _tlv(der, pos, tbs_end)
        fields.append((tag, pos, element_end))
        pos = element_end
    if fields and fields[0][0] == _VERSION:
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    if len(fields) < 6 or fields[5][0] != _SEQUENCE:
        raise ValueError("the certificate has no subjectPublicKeyInfo where RFC 5280 puts it")
    _tag, spki_start, spki_end = fields[5]
    return der[spki_start:spki_end]


#: What ``cryptography`` raises for a certificate it cannot read, at load time or lazily when a
#: part is first used (names, extensions, keys). Several are not ``ValueError`` subclasses
#: (``InvalidVersion``, ``DuplicateExtension``, ``UnsupportedGeneralNameType``), and comparing
#: a name with an attribute of an unknown string type raises ``KeyError``: every boundary that
#: reads certificates from outside catches exactly this tuple.
UNREADABLE_CERTIFICATE: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
