"""ocpp-e2e: end-to-end security for OCPP — signatures over RFC 8785 canonical JSON (SPEC v2).

The core is importable from here: sign and verify frames and structures, keys and keyrings,
signers by URI, outcomes, the canonical form and the errors. Policies, the PKI, tariffs,
tickets, meter values, audits and integrations are the subpackages of those names.

>>> import ocpp_e2e as e2e
>>> key = e2e.generate_private_key("Ed25519")
>>> ring = e2e.Keyring(); _ = ring.add(key.public_key(), name="ops-1")
>>> now = e2e.parse_timestamp("2026-11-22T10:00:00Z")
>>> text = e2e.sign_frame('[2,"1","Reset",{"type":"Immediate"}]', e2e.KeySigner(key),
...                       ocpp="2.0.1", station="cs-1", timestamp=now)
>>> checked = e2e.Verifier(ring).verify_frame(text, ocpp="2.0.1", station="cs-1", now=now)
>>> [s.outcome for s in checked.verification.signatures] == [e2e.Outcome.VALID]
True
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_getattr

if TYPE_CHECKING:
    from ._time import parse_rfc3339 as parse_timestamp
    from .algorithms import ALGORITHMS, Algorithm
    from .canonical import dumps, loads
    from .context import CallTracker
    from .errors import (
        FrameError,
        IJSONError,
        InputError,
        KeyLoadError,
        OcppE2EError,
        PKIError,
        PolicyError,
        SigningError,
    )
    from .frames import Frame, MessageType, parse_frame
    from .keys import (
        SIGNER_FOR_URI_SCHEME,
        Keyring,
        KeySigner,
        Signer,
        generate_private_key,
        key_id,
        load_private_key,
        load_public_key_file,
        load_signer,
        private_key_to_pem,
        public_key_to_pem,
        write_private_key,
    )
    from .model import (
        CertificateValidator,
        ChainResult,
        Direction,
        Kind,
        Outcome,
        SignatureResult,
        Verification,
    )
    from .replay import MemoryReplayCache, ReplayCache, SQLiteReplayCache
    from .sign import sign_frame, sign_object
    from .verify import FrameVerification, Verifier
    from .versions import OCPP_VERSIONS, VERSIONS, OcppVersion

#: Public name -> (module of this package, its name there): loaded on first use, so that a
#: program (the ``ocpp-e2e`` command listing its commands, say) pays only for what it uses.
_WHERE: dict[str, tuple[str, str]] = {
    "parse_timestamp": ("_time", "parse_rfc3339"),
    "ALGORITHMS": ("algorithms", "ALGORITHMS"),
    "Algorithm": ("algorithms", "Algorithm"),
    "dumps": ("canonical", "dumps"),
    "loads": ("canonical", "loads"),
    "CallTracker": ("context", "CallTracker"),
    "FrameError": ("errors", "FrameError"),
    "IJSONError": ("errors", "IJSONError"),
    "InputError": ("errors", "InputError"),
    "KeyLoadError": ("errors", "KeyLoadError"),
    "OcppE2EError": ("errors", "OcppE2EError"),
    "PKIError": ("errors", "PKIError"),
    "PolicyError": ("errors", "PolicyError"),
    "SigningError": ("errors", "SigningError"),
    "Frame": ("frames", "Frame"),
    "MessageType": ("frames", "MessageType"),
    "parse_frame": ("frames", "parse_frame"),
    "SIGNER_FOR_URI_SCHEME": ("keys", "SIGNER_FOR_URI_SCHEME"),
    "Keyring": ("keys", "Keyring"),
    "KeySigner": ("keys", "KeySigner"),
    "Signer": ("keys", "Signer"),
    "generate_private_key": ("keys", "generate_private_key"),
    "key_id": ("keys", "key_id"),
    "load_private_key": ("keys", "load_private_key"),
    "load_public_key_file": ("keys", "load_public_key_file"),
    "load_signer": ("keys", "load_signer"),
    "private_key_to_pem": ("keys", "private_key_to_pem"),
    "public_key_to_pem": ("keys", "public_key_to_pem"),
    "write_private_key": ("keys", "write_private_key"),
    "CertificateValidator": ("model", "CertificateValidator"),
    "ChainResult": ("model", "ChainResult"),
    "Direction": ("model", "Direction"),
    "Kind": ("model", "Kind"),
    "Outcome": ("model", "Outcome"),
    "SignatureResult": ("model", "SignatureResult"),
    "Verification": ("model", "Verification"),
    "MemoryReplayCache": ("replay", "MemoryReplayCache"),
    "ReplayCache": ("replay", "ReplayCache"),
    "SQLiteReplayCache": ("replay", "SQLiteReplayCache"),
    "sign_frame": ("sign", "sign_frame"),
    "sign_object": ("sign", "sign_object"),
    "FrameVerification": ("verify", "FrameVerification"),
    "Verifier": ("verify", "Verifier"),
    "OCPP_VERSIONS": ("versions", "OCPP_VERSIONS"),
    "VERSIONS": ("versions", "VERSIONS"),
    "OcppVersion": ("versions", "OcppVersion"),
}

__version__ = "0.1.0"

__all__ = [
    "ALGORITHMS",
    "OCPP_VERSIONS",
    "SIGNER_FOR_URI_SCHEME",
    "VERSIONS",
    "Algorithm",
    "CallTracker",
    "CertificateValidator",
    "ChainResult",
    "Direction",
    "Frame",
    "FrameError",
    "FrameVerification",
    "IJSONError",
    "InputError",
    "KeyLoadError",
    "KeySigner",
    "Keyring",
    "Kind",
    "MemoryReplayCache",
    "MessageType",
    "OcppE2EError",
    "OcppVersion",
    "Outcome",
    "PKIError",
    "PolicyError",
    "ReplayCache",
    "SQLiteReplayCache",
    "SignatureResult",
    "Signer",
    "SigningError",
    "Verification",
    "Verifier",
    "__version__",
    "dumps",
    "generate_private_key",
    "key_id",
    "load_private_key",
    "load_public_key_file",
    "load_signer",
    "loads",
    "parse_frame",
    "parse_timestamp",
    "private_key_to_pem",
    "public_key_to_pem",
    "sign_frame",
    "sign_object",
    "write_private_key",
]


__getattr__ = lazy_getattr(__name__, _WHERE)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
