"""ESP: OCPP frames encrypted end to end with HPKE, post-quantum ready (docs/esp.md).

Sign, then encrypt: :func:`encrypt_frame` wraps a (signed) OCPP-J frame into a plain
``DataTransfer`` that every node forwards and none but the recipient can read;
:func:`decrypt_frame` gives each envelope one :class:`EspOutcome` and, when ``decrypted``, the
inner frame for verification and the policy. Recipient keys are X25519 or ML-KEM-768 + X25519
(:func:`generate_esp_key`); ticket presentations travel encrypted to the station's key
(:func:`encrypt_presentation`).
"""

from __future__ import annotations

from .frames import (
    MAX_PLAINTEXT,
    EspReceiver,
    ciphertext_digest,
    decrypt_frame,
    encrypt_frame,
    is_esp_request,
)
from .keys import (
    EspKeyInfo,
    EspKeyring,
    EspKeyType,
    EspPrivateKey,
    EspPublicKey,
    esp_private_key_to_pem,
    generate_esp_key,
    load_esp_private_key,
    load_esp_private_pem,
    load_esp_public_spki,
    load_esp_public_text,
    write_esp_private_key,
)
from .model import (
    ESP_MESSAGE_ID,
    ESP_VENDOR_ID,
    AnswerTo,
    EncryptionError,
    EspOutcome,
    EspPending,
    KeyAgreementValidator,
    Opened,
    Sealed,
)
from .suites import SUITES, Suite, default_suite

__all__ = [
    "ESP_MESSAGE_ID",
    "ESP_VENDOR_ID",
    "MAX_PLAINTEXT",
    "SUITES",
    "AnswerTo",
    "EncryptionError",
    "EspKeyInfo",
    "EspKeyType",
    "EspKeyring",
    "EspOutcome",
    "EspPending",
    "EspPrivateKey",
    "EspPublicKey",
    "EspReceiver",
    "KeyAgreementValidator",
    "Opened",
    "Sealed",
    "Suite",
    "ciphertext_digest",
    "decrypt_frame",
    "default_suite",
    "encrypt_frame",
    "esp_private_key_to_pem",
    "generate_esp_key",
    "is_esp_request",
    "load_esp_private_key",
    "load_esp_private_pem",
    "load_esp_public_spki",
    "load_esp_public_text",
    "write_esp_private_key",
]
