"""Plain data of ESP: outcomes, what a sender keeps per request, what a receiver gets back."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from ..context import PendingCall
from ..errors import OcppE2EError
from ..frames import Frame
from ..model import ChainResult
from .keys import EspPublicKey

__all__ = [
    "ESP_INFO_LABEL",
    "ESP_MESSAGE_ID",
    "ESP_VENDOR_ID",
    "AnswerTo",
    "EncryptionError",
    "EspOutcome",
    "EspPending",
    "KeyAgreementValidator",
    "Opened",
    "Sealed",
]

#: ``vendorId`` and ``messageId`` of the outer DataTransfer (docs/esp.md §9.3).
ESP_VENDOR_ID = "org.ocpp-e2e"
ESP_MESSAGE_ID = "esp/1"
#: The ``esp`` member of every HPKE ``info`` (§9.5).
ESP_INFO_LABEL = "org.ocpp-e2e/esp/1"


class EspOutcome(enum.StrEnum):
    """The outcome of one envelope (docs/esp.md §9.6); only ``decrypted`` passes a frame on."""

    DECRYPTED = "decrypted"
    TOO_LARGE = "too-large"
    MALFORMED = "malformed"
    UNSUPPORTED_SUITE = "unsupported-suite"
    WRONG_RECIPIENT = "wrong-recipient"
    EXPIRED = "expired"
    UNDECRYPTABLE = "undecryptable"
    REPLAYED = "replayed"
    INVALID_INNER_FRAME = "invalid-inner-frame"
    UNKNOWN_REPLY_KEY = "unknown-reply-key"


class EncryptionError(OcppE2EError):
    """A frame could not be encrypted: no key for the receiver, a suite that does not fit the key,
    an inner frame that is not a valid frame of the right type, a plaintext over the limit."""


class KeyAgreementValidator(Protocol):
    """Validates a certificate chain of a key-agreement key (docs/esp.md §9.7) at ``now``."""

    def validate_key_agreement(self, chain: tuple[bytes, ...], *, now: datetime) -> ChainResult:
        """Never raises for bad input: a failure is ``ChainResult(ok=False, reason=...)``."""
        ...


@dataclass(frozen=True)
class EspPending:
    """What the sender of an encrypted request keeps to read its answer (§9.6 Answers).

    ``call`` is the inner CALL (its id, action and R); ``request_ciphertext`` the base64url
    SHA-256 of the request's ``ct``; ``reply_key_id`` the key the answer must be encrypted to.
    """

    call: PendingCall
    request_ciphertext: str
    reply_key_id: str


@dataclass(frozen=True)
class AnswerTo:
    """What the receiver of an encrypted request needs to encrypt its answer (§9.8)."""

    outer_message_id: str
    call: PendingCall
    request_ciphertext: str
    reply_key: EspPublicKey
    reply_identity: str | None


class Sealed(NamedTuple):
    """An encrypted frame: the outer frame's text and, for a request, what to keep for its answer."""

    text: str
    inner: bytes
    envelope: dict[str, object]
    pending: EspPending | None


class Opened(NamedTuple):
    """The result of reading one envelope: its outcome and reason, and when ``decrypted`` the
    inner frame (exact bytes and parsed) and, for a request, how to answer it."""

    outcome: EspOutcome
    reason: str
    inner: bytes | None = None
    frame: Frame | None = None
    suite: str | None = None
    recipient: str | None = None
    answer_to: AnswerTo | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is EspOutcome.DECRYPTED
