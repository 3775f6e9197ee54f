"""The HPKE suites of ESP (docs/esp.md §9.2): one name for one complete HPKE configuration.

>>> SUITES["X25519-SHA256-A128GCM"].key_type.value
'X25519'
>>> default_suite(EspKeyType.HYBRID).name
'MLKEM768X25519-SHA256-A256GCM'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import hpke

from .keys import EspKeyType

__all__ = [
    "MAX_OVERHEAD",
    "SUITES",
    "TAG_LENGTH",
    "Suite",
    "default_suite",
]


@dataclass(frozen=True)
class Suite:
    """A suite: its wire name, HPKE algorithm ids, recipient key type and ``enc`` length."""

    name: str
    kem: hpke.KEM
    kdf: hpke.KDF
    aead: hpke.AEAD
    key_type: EspKeyType
    enc_length: int
    #: The RFC 9180 / IANA identifiers (KEM, KDF, AEAD), for readers of the wire format.
    ids: tuple[int, int, int]

    def hpke(self) -> hpke.Suite:
        return hpke.Suite(self.kem, self.kdf, self.aead)


#: Every suite of §9.2, by wire name.
SUITES: Mapping[str, Suite] = {
    s.name: s
    for s in (
        Suite(
            "X25519-SHA256-A128GCM",
            hpke.KEM.X25519,
            hpke.KDF.HKDF_SHA256,
            hpke.AEAD.AES_128_GCM,
            EspKeyType.X25519,
            32,
            (0x0020, 0x0001, 0x0001),
        ),
        Suite(
            "X25519-SHA256-CHACHA20POLY1305",
            hpke.KEM.X25519,
            hpke.KDF.HKDF_SHA256,
            hpke.AEAD.CHACHA20_POLY1305,
            EspKeyType.X25519,
            32,
            (0x0020, 0x0001, 0x0003),
        ),
        Suite(
            "MLKEM768X25519-SHA256-A256GCM",
            hpke.KEM.MLKEM768_X25519,
            hpke.KDF.HKDF_SHA256,
            hpke.AEAD.AES_256_GCM,
            EspKeyType.HYBRID,
            1120,
            (0x647A, 0x0001, 0x0002),
        ),
    )
}

_DEFAULTS: Mapping[EspKeyType, str] = {
    EspKeyType.X25519: "X25519-SHA256-A128GCM",
    EspKeyType.HYBRID: "MLKEM768X25519-SHA256-A256GCM",
}

#: The AEAD tag length of every suite (AES-GCM and ChaCha20-Poly1305 both add 16 bytes).
TAG_LENGTH = 16
#: The largest overhead a suite adds to a plaintext: X-Wing's ``enc`` and the tag.
MAX_OVERHEAD = max(s.enc_length for s in SUITES.values()) + TAG_LENGTH


def default_suite(key_type: EspKeyType) -> Suite:
    """The suite a sender uses for a recipient key of this type unless told otherwise."""
    return SUITES[_DEFAULTS[key_type]]
