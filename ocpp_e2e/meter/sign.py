"""Producing OCMF records, for station simulators and tests of CSMS software.

A real meter signs inside its calibrated hardware; this module does the same with a software key
so that verifiers can be exercised with every curve and encoding of OCMF Table 8 and Table 22.

>>> from cryptography.hazmat.primitives.asymmetric import ec
>>> key = ec.generate_private_key(ec.SECP256R1())
>>> sign_payload('{"PG":"T1"}', key).startswith('OCMF|{"PG":"T1"}|{"SA":"ECDSA-secp256r1-SHA256"')
True
"""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric import ec

from .._b64 import b64_encode
from ..errors import SigningError
from .algorithms import CURVE_ALGORITHM, algorithm_status

__all__ = [
    "sign_payload",
]


def sign_payload(
    payload: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    encoding: str = "hex",
    include_algorithm: bool = True,
    uppercase: bool = True,
) -> str:
    """Sign the exact text ``payload`` and return ``OCMF|<payload>|<signature section>``.

    ``encoding`` is ``hex`` or ``base64`` (``SE``); with ``include_algorithm=False`` the ``SA``
    member is left out, which OCMF reads as ``ECDSA-secp256r1-SHA256``.
    """
    alg = CURVE_ALGORITHM.get(key.curve.name)
    if alg is None:
        raise SigningError(f"curve {key.curve.name} is not in the OCMF algorithm table")
    ok, why = algorithm_status(alg.identifier)
    if not ok:
        raise SigningError(why)
    if not include_algorithm and alg.identifier != "ECDSA-secp256r1-SHA256":
        raise SigningError("SA may be left out only for ECDSA-secp256r1-SHA256 (the default)")
    der = key.sign(payload.encode("utf-8"), ec.ECDSA(alg.hash()))
    section: dict[str, str] = {}
    if include_algorithm:
        section["SA"] = alg.identifier
    if encoding == "hex":
        sd = der.hex()
        section["SD"] = sd.upper() if uppercase else sd
    elif encoding == "base64":
        section["SE"] = "base64"
        section["SD"] = b64_encode(der)
    else:
        raise SigningError(f"unknown signature encoding {encoding!r} (hex or base64)")
    return f"OCMF|{payload}|{json.dumps(section, separators=(',', ':'))}"
