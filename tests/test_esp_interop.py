"""ESP interoperates with an independent HPKE implementation (pyhpke, RFC 9180) on the classical
suites, in both directions: what pyhpke seals, decrypt_frame opens, and the reverse."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey

from ocpp_e2e._b64 import b64url_decode, b64url_encode
from ocpp_e2e.canonical import dumps
from ocpp_e2e.esp import (
    EspKeyInfo,
    EspKeyring,
    EspOutcome,
    EspReceiver,
    encrypt_frame,
    generate_esp_key,
)
from ocpp_e2e.esp.frames import _hpke_info

NOW = datetime(2026, 12, 7, 22, 40, tzinfo=UTC)
STAMP = "2026-12-07T22:40:00.000Z"
AEADS = {
    "X25519-SHA256-A128GCM": AEADId.AES128_GCM,
    "X25519-SHA256-CHACHA20POLY1305": AEADId.CHACHA20_POLY1305,
}
CALL = b'[2,"42","SetChargingProfile",{"evseId":1,"chargingProfile":{"id":7}}]'


def pyhpke_suite(name: str) -> CipherSuite:
    return CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADS[name])


@pytest.mark.parametrize("suite", list(AEADS))
def test_pyhpke_sealed_envelope_is_decrypted(suite: str) -> None:
    station, csms = generate_esp_key("X25519"), generate_esp_key("X25519")
    info = _hpke_info(
        ocpp="2.0.1",
        station="cs-1",
        direction="toStation",
        kind="request",
        suite=suite,
        recipient=station.key_id,
        timestamp=STAMP,
        reply_to=csms.key_id,
    )
    pkr = KEMKey.from_pyca_cryptography_key(station.public.hpke_key)
    enc, sender = pyhpke_suite(suite).create_sender_context(pkr, info=info)
    ct = enc + sender.seal(CALL, aad=b"")
    envelope = {
        "suite": suite,
        "recipient": station.key_id,
        "timestamp": STAMP,
        "replyTo": csms.key_id,
        "ct": b64url_encode(ct),
    }
    payload = {"vendorId": "org.ocpp-e2e", "messageId": "esp/1", "data": dumps(envelope).decode()}
    outer = dumps([2, "42", "DataTransfer", payload])
    rx = EspReceiver([station], reply_keys=EspKeyring([EspKeyInfo(csms.public, "csms")]))
    opened = rx.decrypt_frame(outer, ocpp="2.0.1", station="CS-1", direction="toStation", now=NOW)
    assert (opened.outcome, opened.inner) == (EspOutcome.DECRYPTED, CALL)


@pytest.mark.parametrize("suite", list(AEADS))
def test_encrypt_frame_output_is_opened_by_pyhpke(suite: str) -> None:
    station, csms = generate_esp_key("X25519"), generate_esp_key("X25519")
    sealed = encrypt_frame(
        CALL,
        ocpp="1.6",
        station="CS-1",
        direction="toStation",
        recipient=station.public,
        reply_to=csms.public,
        suite=suite,
        now=NOW,
    )
    envelope = orjson.loads(orjson.loads(sealed.text)[3]["data"])
    ct = b64url_decode(envelope["ct"])
    info = _hpke_info(
        ocpp="1.6",
        station="cs-1",
        direction="toStation",
        kind="request",
        suite=suite,
        recipient=station.key_id,
        timestamp=envelope["timestamp"],
        reply_to=csms.key_id,
    )
    skr = KEMKey.from_pyca_cryptography_key(station.hpke_key)
    recipient = pyhpke_suite(suite).create_recipient_context(ct[:32], skr, info=info)
    assert recipient.open(ct[32:], aad=b"") == CALL
