"""SPEC §5 PKI: certificates whose extended key usages say what a key may sign.

- :mod:`.usages`: the usage names and OIDs of SPEC §5.
- :mod:`.issue`: a root, sub-CAs and leaves (:class:`CertificateAuthority`, :func:`create_root`).
- :mod:`.revocation`: a CA's revocation state file and CRLs (:class:`RevocationState`).
- :mod:`.validate`: :class:`ChainValidator`, the ``CertificateValidator`` the verifier calls.
"""

from __future__ import annotations

from .issue import (
    IDENTITY_PREFIX,
    CertificateAuthority,
    certificate_identities,
    certificate_name,
    certificate_pem,
    certificate_usages,
    create_root,
    load_certificates,
    load_certificates_file,
)
from .revocation import REASONS, RevocationState, Revoked, state_path
from .tls import issue_tls_certificate
from .usages import ALL_USAGES, USAGE_ARC, USAGE_NAMES, USAGE_OIDS, check_usages, usage_name
from .validate import ChainValidator, pem_chain_der

__all__ = [
    "ALL_USAGES",
    "IDENTITY_PREFIX",
    "REASONS",
    "USAGE_ARC",
    "USAGE_NAMES",
    "USAGE_OIDS",
    "CertificateAuthority",
    "ChainValidator",
    "RevocationState",
    "Revoked",
    "certificate_identities",
    "certificate_name",
    "certificate_pem",
    "certificate_usages",
    "check_usages",
    "create_root",
    "issue_tls_certificate",
    "load_certificates",
    "load_certificates_file",
    "pem_chain_der",
    "state_path",
    "usage_name",
]
