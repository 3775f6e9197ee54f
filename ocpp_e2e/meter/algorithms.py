"""The OCMF signature algorithm table and what this installation can verify.

Source: SAFE e.V., "Open Charge Metering Format" (OCMF) revision 1.2, section "Cryptography",
Table 22 "Predefined Signature Algorithms and Their Parameters". Every algorithm of that table
hashes with SHA-256, including the 384-bit curves; the signature is ECDSA.

>>> ALGORITHMS[DEFAULT_ALGORITHM].curve_name
'secp256r1'
>>> algorithm_status("ECDSA-secp192k1-SHA256")
(True, 'supported (pure-Python ecdsa package: cryptography has no secp192k1)')
>>> resolve_algorithm("ECDSA-brainpoolP256r1-SHA256")
('ECDSA-brainpool256r1-SHA256', 'SA spelling ECDSA-brainpoolP256r1-SHA256 read as ECDSA-brainpool256r1-SHA256 (OCMF Table 22)')
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ._secp192k1 import SECP192K1

__all__ = [
    "ALGORITHMS",
    "CURVE_ALGORITHM",
    "DEFAULT_ALGORITHM",
    "OcmfAlgorithm",
    "algorithm_status",
    "resolve_algorithm",
    "supported_algorithms",
    "unsupported_algorithms",
]

#: OCMF Table 8: ``SA`` absent means this algorithm (Table 22 marks it as the default).
DEFAULT_ALGORITHM = "ECDSA-secp256r1-SHA256"


@dataclass(frozen=True)
class OcmfAlgorithm:
    """One row of OCMF Table 22: identifier, curve and hash (always SHA-256 in OCMF).

    ``pure`` marks the curve ``cryptography`` lacks, verified by the ``ecdsa`` package
    (:mod:`ocpp_e2e.meter._secp192k1`).
    """

    identifier: str
    curve_name: str
    curve: type[ec.EllipticCurve] | None
    pure: bool = False

    def hash(self) -> hashes.HashAlgorithm:
        """The hash OCMF Table 22 defines for this row: SHA-256 for every row."""
        return hashes.SHA256()


ALGORITHMS: Mapping[str, OcmfAlgorithm] = {
    a.identifier: a
    for a in (
        # cryptography has no secp192k1: its keys verify on the pure-Python ecdsa package.
        OcmfAlgorithm("ECDSA-secp192k1-SHA256", "secp192k1", SECP192K1, pure=True),
        OcmfAlgorithm("ECDSA-secp256k1-SHA256", "secp256k1", ec.SECP256K1),
        OcmfAlgorithm("ECDSA-secp192r1-SHA256", "secp192r1", ec.SECP192R1),
        OcmfAlgorithm("ECDSA-secp256r1-SHA256", "secp256r1", ec.SECP256R1),
        OcmfAlgorithm("ECDSA-brainpool256r1-SHA256", "brainpoolP256r1", ec.BrainpoolP256R1),
        OcmfAlgorithm("ECDSA-secp384r1-SHA256", "secp384r1", ec.SECP384R1),
        OcmfAlgorithm("ECDSA-brainpool384r1-SHA256", "brainpoolP384r1", ec.BrainpoolP384R1),
    )
}

#: cryptography curve name -> OCMF algorithm, to tell which algorithm a meter key can verify.
CURVE_ALGORITHM: Mapping[str, OcmfAlgorithm] = {
    a.curve().name: a for a in ALGORITHMS.values() if a.curve is not None
}


@functools.cache
def _openssl_has(curve: type[ec.EllipticCurve]) -> bool:
    # Builds of OpenSSL may leave out curves (secp192r1, brainpool); ask the library, once.
    try:
        ec.derive_private_key(1, curve())
    except UnsupportedAlgorithm:
        return False
    return True


# Spellings meters write for the curves of Table 22 (case aside): the OCMF table writes
# "brainpool256r1", meters (NZR, and the S.A.F.E. verifier's own fixtures) "brainpoolP256r1"; the
# S.A.F.E. Transparenzsoftware lower-cases the curve and inserts the "p", and so do we.
_CURVE_SPELLINGS: Mapping[str, str] = {
    "secp192k1": "secp192k1",
    "secp256k1": "secp256k1",
    "secp192r1": "secp192r1",
    "prime192v1": "secp192r1",
    "secp256r1": "secp256r1",
    "prime256v1": "secp256r1",
    "p-256": "secp256r1",
    "p256": "secp256r1",
    "secp384r1": "secp384r1",
    "p-384": "secp384r1",
    "p384": "secp384r1",
    "brainpool256r1": "brainpool256r1",
    "brainpoolp256r1": "brainpool256r1",
    "brainpool384r1": "brainpool384r1",
    "brainpoolp384r1": "brainpool384r1",
}


def resolve_algorithm(sa: str) -> tuple[str, str | None]:
    """The Table 22 identifier an ``SA`` value means, and a note when it was spelled otherwise.

    Only the spelling is liberal (case, ``brainpoolP``/``brainpool``, ``prime256v1``): the curve
    and the hash stay exactly what the meter named, so a record never verifies under another
    algorithm than the one it states. Unknown spellings come back unchanged (and are then
    ``unsupported-algorithm``).

    >>> resolve_algorithm("ECDSA-secp256r1-SHA256")
    ('ECDSA-secp256r1-SHA256', None)
    """
    if sa in ALGORITHMS:
        return sa, None
    parts = sa.split("-")
    if len(parts) != 3 or parts[0].upper() != "ECDSA" or parts[2].upper() != "SHA256":
        return sa, None
    curve = _CURVE_SPELLINGS.get(parts[1].lower())
    if curve is None:
        return sa, None
    identifier = f"ECDSA-{curve}-SHA256"
    return identifier, f"SA spelling {sa} read as {identifier} (OCMF Table 22)"


def algorithm_status(identifier: str) -> tuple[bool, str]:
    """Whether records under ``identifier`` can be verified here, and why not when they cannot.

    >>> algorithm_status("ECDSA-secp256r1-SHA256")
    (True, 'supported')
    """
    alg = ALGORITHMS.get(identifier)
    if alg is None:
        return False, f"{identifier!r} is not in the OCMF algorithm table (OCMF Table 22)"
    if alg.curve is None:
        return False, f"{identifier}: the cryptography package has no {alg.curve_name} curve"
    if alg.pure:
        return True, f"supported (pure-Python ecdsa package: cryptography has no {alg.curve_name})"
    if not _openssl_has(alg.curve):
        return False, f"{identifier}: the installed OpenSSL does not support {alg.curve_name}"
    return True, "supported"


def supported_algorithms() -> tuple[str, ...]:
    """The OCMF algorithm identifiers this installation can verify, in table order."""
    return tuple(name for name in ALGORITHMS if algorithm_status(name)[0])


def unsupported_algorithms() -> dict[str, str]:
    """OCMF algorithm identifiers this installation cannot verify, each with the reason."""
    out: dict[str, str] = {}
    for name in ALGORITHMS:
        ok, reason = algorithm_status(name)
        if not ok:
            out[name] = reason
    return out
