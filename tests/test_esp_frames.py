"""ESP frames (docs/esp.md §9.3–§9.6): round trips for every suite and OCPP version, and every
refusal with its exact outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from ocpp_e2e._b64 import b64url_decode, b64url_encode
from ocpp_e2e.canonical import dumps
from ocpp_e2e.context import PendingCall, normalize_station
from ocpp_e2e.esp import (
    SUITES,
    EncryptionError,
    EspKeyInfo,
    EspKeyring,
    EspOutcome,
    EspPending,
    EspPrivateKey,
    EspReceiver,
    decrypt_frame,
    encrypt_frame,
    generate_esp_key,
)
from ocpp_e2e.esp.frames import _hpke_info
from ocpp_e2e.frames import parse_frame
from ocpp_e2e.keys import Keyring, KeySigner, generate_private_key
from ocpp_e2e.model import Outcome
from ocpp_e2e.replay import MemoryReplayCache
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.verify import Verifier

NOW = datetime(2026, 12, 7, 22, 40, tzinfo=UTC)
X = generate_esp_key("X25519")
X_OTHER = generate_esp_key("X25519")
HYBRID = generate_esp_key("ML-KEM-768+X25519")
CSMS_REPLY = generate_esp_key("X25519")
STATION_REPLY = generate_esp_key("ML-KEM-768+X25519")
KEY_FOR = {"X25519": X, "ML-KEM-768+X25519": HYBRID}
CALL = '[2,"42","Reset",{"type":"Immediate"}]'
CALL_16 = '[2,"42","Reset",{"type":"Hard"}]'


def receiver(*keys: EspPrivateKey, **kw: Any) -> EspReceiver:
    ring = EspKeyring(
        [EspKeyInfo(CSMS_REPLY.public, "csms"), EspKeyInfo(STATION_REPLY.public, "cs-1")]
    )
    kw.setdefault("reply_keys", ring)
    return EspReceiver(keys or (X, HYBRID), **kw)


def seal(frame: str = CALL, *, ocpp: str = "2.0.1", **kw: Any) -> Any:
    kw.setdefault("station", "CS-1")
    kw.setdefault("direction", "toStation")
    kw.setdefault("recipient", X.public)
    kw.setdefault("reply_to", CSMS_REPLY.public)
    kw.setdefault("now", NOW)
    return encrypt_frame(frame, ocpp=ocpp, **kw)


def open_(text: str | bytes, *, ocpp: str = "2.0.1", rx: EspReceiver | None = None, **kw: Any):
    kw.setdefault("station", "cs-1")
    kw.setdefault("direction", "toStation")
    kw.setdefault("now", NOW)
    return (rx or receiver()).decrypt_frame(text, ocpp=ocpp, **kw)


def outer_with(text: str, **changes: Any) -> str:
    """The outer frame with envelope members changed (None removes one)."""
    frame = orjson.loads(text)
    payload = frame[-1]
    envelope = orjson.loads(payload["data"])
    for k, v in changes.items():
        if v is None:
            envelope.pop(k, None)
        else:
            envelope[k] = v
    payload["data"] = dumps(envelope).decode()
    return dumps(frame).decode()


def seal_raw(
    plaintext: bytes,
    *,
    kind: str = "request",
    frame_type: int = 2,
    key: EspPrivateKey = X,
    pending: EspPending | None = None,
) -> str:
    """An envelope around arbitrary bytes, with the correct info: for inner-frame refusals."""
    suite = SUITES["X25519-SHA256-A128GCM"]
    stamp = "2026-12-07T22:40:00.000Z"
    reply = CSMS_REPLY.public.key_id if kind == "request" else None
    info = _hpke_info(
        ocpp="2.0.1",
        station="cs-1",
        direction="toStation",
        kind=kind,
        suite=suite.name,
        recipient=key.key_id,
        timestamp=stamp,
        reply_to=reply,
        request=pending.call.request if pending else None,
        request_ciphertext=pending.request_ciphertext if pending else None,
    )
    ct = suite.hpke().encrypt(plaintext, key.public.hpke_key, info=info)
    envelope: dict[str, Any] = {
        "suite": suite.name,
        "recipient": key.key_id,
        "timestamp": stamp,
        "ct": b64url_encode(ct),
    }
    if reply:
        envelope["replyTo"] = reply
    data = dumps(envelope).decode()
    if frame_type == 3:
        return dumps([3, "42", {"status": "Accepted", "data": data}]).decode()
    payload = {"vendorId": "org.ocpp-e2e", "messageId": "esp/1", "data": data}
    return dumps([frame_type, "42", "DataTransfer", payload]).decode()


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1", "2.1"])
@pytest.mark.parametrize("suite", list(SUITES))
def test_request_and_answer_round_trip_for_every_suite_and_version(ocpp: str, suite: str) -> None:
    key = KEY_FOR[SUITES[suite].key_type.value]
    call = CALL_16 if ocpp == "1.6" else CALL
    sealed = seal(call, ocpp=ocpp, recipient=key.public, suite=suite)
    outer = parse_frame(sealed.text, ocpp=ocpp)
    assert (outer.action, outer.payload["vendorId"], outer.payload["messageId"]) == (
        "DataTransfer",
        "org.ocpp-e2e",
        "esp/1",
    )
    assert isinstance(outer.payload["data"], str)
    opened = open_(sealed.text, ocpp=ocpp)
    assert opened.outcome is EspOutcome.DECRYPTED, opened.reason
    assert opened.inner == call.encode()
    assert opened.suite == suite
    answer = encrypt_frame(
        '[3,"42",{"status":"Accepted"}]',
        ocpp=ocpp,
        station="cs-1",
        direction="toCSMS",
        answering=opened.answer_to,
        now=NOW,
    )
    assert orjson.loads(answer.text)[2]["status"] == "Accepted"
    back = EspReceiver([CSMS_REPLY]).decrypt_frame(
        answer.text, ocpp=ocpp, station="CS-1", direction="toCSMS", pending=sealed.pending, now=NOW
    )
    assert back.outcome is EspOutcome.DECRYPTED, back.reason
    assert back.inner == b'[3,"42",{"status":"Accepted"}]'


def test_an_inner_callerror_travels_inside_an_accepted_outer_result() -> None:
    sealed = seal()
    opened = open_(sealed.text)
    error = '[4,"42","NotSupported","no",{}]'
    answer = encrypt_frame(
        error, ocpp="2.0.1", station="cs-1", direction="toCSMS", answering=opened.answer_to, now=NOW
    )
    assert orjson.loads(answer.text)[0] == 3
    back = EspReceiver([CSMS_REPLY]).decrypt_frame(
        answer.text,
        ocpp="2.0.1",
        station="cs-1",
        direction="toCSMS",
        pending=sealed.pending,
        now=NOW,
    )
    assert (back.outcome, back.inner) == (EspOutcome.DECRYPTED, error.encode())


def test_a_send_travels_in_an_outer_send_without_reply_key() -> None:
    send = '[6,"9","NotifyPeriodicEventStream",{"id":1,"pending":0,"basetime":"2026-01-01T00:00:00Z","data":[]}]'
    sealed = seal(send, ocpp="2.1", reply_to=None, direction="toCSMS")
    assert orjson.loads(sealed.text)[0] == 6
    assert "replyTo" not in sealed.envelope and sealed.pending is None
    opened = open_(sealed.text, ocpp="2.1", direction="toCSMS")
    assert (opened.outcome, opened.inner, opened.answer_to) == (
        EspOutcome.DECRYPTED,
        send.encode(),
        None,
    )


def test_the_inner_frame_comes_back_byte_for_byte() -> None:
    odd = '[2, "42", "Reset", {"type": "Immediate", "n": 1.50}]'
    assert open_(seal(odd).text).inner == odd.encode()


def test_a_signed_inner_frame_verifies_after_decryption_as_a_plaintext_frame() -> None:
    signer_key = generate_private_key("Ed25519")
    ring = Keyring()
    ring.add(signer_key.public_key(), name="ops")
    signed = sign_frame(CALL, KeySigner(signer_key), ocpp="2.0.1", station="CS-1", timestamp=NOW)
    opened = open_(seal(signed).text)
    result = Verifier(ring).verify_frame(opened.inner, ocpp="2.0.1", station="cs-1", now=NOW)
    assert [s.outcome for s in result.verification.signatures] == [Outcome.VALID]


def test_relay_signatures_sit_only_in_the_versions_carrier() -> None:
    frame = orjson.loads(seal(CALL_16, ocpp="1.6").text)
    frame[3]["customData"] = {"vendorId": "org.ocpp-e2e"}  # 1.6 payloads carry no customData
    opened = open_(dumps(frame), ocpp="1.6")
    assert opened.outcome is EspOutcome.MALFORMED and "customData" in opened.reason


def test_the_outer_frame_may_carry_relay_signatures() -> None:
    relay = generate_private_key("Ed25519")
    sealed = seal()
    relayed = sign_frame(sealed.text, KeySigner(relay), ocpp="2.0.1", station="cs-1", timestamp=NOW)
    assert "customData" in orjson.loads(relayed)[3]
    assert open_(relayed).outcome is EspOutcome.DECRYPTED


def test_a_relay_may_renumber_the_outer_frame() -> None:
    sealed = seal()
    renumbered = orjson.loads(sealed.text)
    renumbered[1] = "relay-7"
    opened = open_(dumps(renumbered))
    assert opened.answer_to is not None and opened.answer_to.outer_message_id == "relay-7"
    answer = encrypt_frame(
        '[3,"42",{"status":"Accepted"}]',
        ocpp="2.0.1",
        station="cs-1",
        direction="toCSMS",
        answering=opened.answer_to,
        now=NOW,
    )
    assert orjson.loads(answer.text)[1] == "relay-7"


def test_the_hybrid_suite_is_chosen_by_the_recipient_key_type() -> None:
    assert seal(recipient=HYBRID.public).envelope["suite"] == "MLKEM768X25519-SHA256-A256GCM"
    assert seal(recipient=X.public).envelope["suite"] == "X25519-SHA256-A128GCM"


# --------------------------------------------------------------------------- refusals


def test_too_large_when_the_ciphertext_exceeds_the_receivers_plaintext_limit() -> None:
    big = '[2,"42","DataTransfer",{"vendorId":"x","data":"' + "a" * 5000 + '"}]'
    opened = open_(seal(big).text, rx=receiver(max_plaintext=1000))
    assert opened.outcome is EspOutcome.TOO_LARGE


def test_too_large_when_the_outer_frame_exceeds_what_is_read() -> None:
    opened = open_("[" + " " * 3_000_000 + "]", rx=receiver(max_plaintext=1000))
    assert opened.outcome is EspOutcome.TOO_LARGE


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda t: t.replace('"messageId":"esp/1"', '"messageId":"esp/2"'), "esp/2"),
        (lambda t: t.replace('"vendorId":"org.ocpp-e2e"', '"vendorId":"acme"'), "vendorId"),
        (lambda t: t.replace('"messageId"', '"extra":1,"messageId"'), "unknown member"),
    ],
)
def test_malformed_outer_payload(mutate: Any, reason: str) -> None:
    opened = open_(mutate(seal().text))
    assert opened.outcome is EspOutcome.MALFORMED and reason in opened.reason


def test_malformed_when_data_is_not_a_string() -> None:
    frame = orjson.loads(seal().text)
    frame[3]["data"] = orjson.loads(frame[3]["data"])
    assert open_(dumps(frame)).outcome is EspOutcome.MALFORMED


def test_malformed_when_the_envelope_is_not_ijson() -> None:
    frame = orjson.loads(seal().text)
    frame[3]["data"] = '{"suite":"a","suite":"b"}'
    opened = open_(dumps(frame))
    assert opened.outcome is EspOutcome.MALFORMED and "I-JSON" in opened.reason


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"extra": "x"}, "unknown member"),
        ({"replyTo": None}, "replyTo"),
        ({"ct": "not base64!"}, "base64url"),
        ({"ct": "AAAA"}, "less than"),
        ({"timestamp": "2026-12-07 22:40:00"}, "timestamp"),
        ({"recipient": "short"}, "recipient"),
        ({"suite": 7}, "suite"),
        ({"replyCertificates": []}, "replyCertificates"),
    ],
)
def test_malformed_envelope(changes: dict[str, Any], reason: str) -> None:
    opened = open_(outer_with(seal().text, **changes))
    assert opened.outcome is EspOutcome.MALFORMED
    assert reason in opened.reason


def test_malformed_when_a_send_names_a_reply_key() -> None:
    send = seal('[6,"9","NotifyPeriodicEventStream",{}]', ocpp="2.1", reply_to=None)
    text = outer_with(send.text, replyTo=CSMS_REPLY.public.key_id)
    assert open_(text, ocpp="2.1").outcome is EspOutcome.MALFORMED


def test_malformed_when_an_answer_has_no_pending_request() -> None:
    opened = open_(seal().text)
    answer = encrypt_frame(
        '[3,"42",{}]', ocpp="2.0.1", station="cs-1", direction="toCSMS", answering=opened.answer_to, now=datetime.now(UTC)
    )
    result = EspReceiver([CSMS_REPLY]).decrypt_frame(
        answer.text, ocpp="2.0.1", station="cs-1", direction="toCSMS", now=NOW
    )
    assert result.outcome is EspOutcome.MALFORMED and "pending" in result.reason


def test_malformed_when_the_answer_status_is_not_accepted() -> None:
    sealed = seal()
    text = dumps([3, "42", {"status": "Rejected"}]).decode()
    result = EspReceiver([CSMS_REPLY]).decrypt_frame(
        text, ocpp="2.0.1", station="cs-1", direction="toCSMS", pending=sealed.pending, now=NOW
    )
    assert result.outcome is EspOutcome.MALFORMED and "Rejected" in result.reason


def test_unsupported_suite_for_an_unknown_name() -> None:
    opened = open_(outer_with(seal().text, suite="X25519-SHA256-A512GCM"))
    assert opened.outcome is EspOutcome.UNSUPPORTED_SUITE


def test_unsupported_suite_when_the_receiver_does_not_accept_it() -> None:
    text = seal(suite="X25519-SHA256-CHACHA20POLY1305").text
    opened = open_(text, rx=receiver(suites=["X25519-SHA256-A128GCM"]))
    assert opened.outcome is EspOutcome.UNSUPPORTED_SUITE


def test_unsupported_suite_when_the_suite_does_not_fit_the_key_type() -> None:
    opened = open_(outer_with(seal().text, suite="MLKEM768X25519-SHA256-A256GCM"))
    assert opened.outcome is EspOutcome.UNSUPPORTED_SUITE and "needs a" in opened.reason


def test_wrong_recipient_when_the_receiver_does_not_hold_the_key() -> None:
    opened = open_(seal(recipient=X_OTHER.public).text)
    assert opened.outcome is EspOutcome.WRONG_RECIPIENT
    assert X_OTHER.key_id in opened.reason


def test_wrong_recipient_when_an_answer_is_not_for_the_key_the_request_named() -> None:
    sealed = seal()
    pending = EspPending(sealed.pending.call, sealed.pending.request_ciphertext, X.key_id)
    opened = open_(sealed.text)
    answer = encrypt_frame(
        '[3,"42",{}]', ocpp="2.0.1", station="cs-1", direction="toCSMS", answering=opened.answer_to, now=datetime.now(UTC)
    )
    result = EspReceiver([CSMS_REPLY, X]).decrypt_frame(
        answer.text, ocpp="2.0.1", station="cs-1", direction="toCSMS", pending=pending, now=NOW
    )
    assert result.outcome is EspOutcome.WRONG_RECIPIENT


@pytest.mark.parametrize(
    "now", [NOW + timedelta(minutes=6), NOW - timedelta(minutes=1)], ids=["old", "future"]
)
def test_expired_outside_the_freshness_window(now: datetime) -> None:
    assert open_(seal().text, now=now).outcome is EspOutcome.EXPIRED


def test_expired_before_the_start_of_a_receiver_whose_cache_forgets() -> None:
    rx = receiver(replay_cache=MemoryReplayCache(), not_before=NOW + timedelta(seconds=1))
    assert open_(seal().text, rx=rx).outcome is EspOutcome.EXPIRED


@pytest.mark.parametrize(
    "where",
    [
        {"station": "cs-2"},
        {"direction": "toCSMS"},
        {"ocpp": "2.1"},
    ],
    ids=["other-station", "other-direction", "other-version"],
)
def test_undecryptable_on_another_connection_or_direction(where: dict[str, str]) -> None:
    opened = open_(seal().text, **where)
    assert opened.outcome is EspOutcome.UNDECRYPTABLE


def test_undecryptable_when_a_request_ciphertext_is_replayed_as_a_send() -> None:
    text = seal().text.replace("[2,", "[6,", 1)
    opened = open_(outer_with(text, replyTo=None), ocpp="2.1")
    assert opened.outcome is EspOutcome.UNDECRYPTABLE


@pytest.mark.parametrize(
    "changes",
    [
        {"replyTo": X_OTHER.public.key_id},
        {"timestamp": "2026-12-07T22:40:01.000Z"},
    ],
    ids=["replyTo", "timestamp"],
)
def test_undecryptable_when_a_bound_member_is_changed(changes: dict[str, str]) -> None:
    assert open_(outer_with(seal().text, **changes)).outcome is EspOutcome.UNDECRYPTABLE


def test_undecryptable_when_the_ciphertext_is_altered() -> None:
    sealed = seal()
    ct = bytearray(b64url_decode(sealed.envelope["ct"]))
    ct[-1] ^= 1
    opened = open_(outer_with(sealed.text, ct=b64url_encode(bytes(ct))))
    assert opened.outcome is EspOutcome.UNDECRYPTABLE


def test_undecryptable_when_an_answer_is_moved_to_another_identical_request() -> None:
    first, second = seal(), seal()
    answer = encrypt_frame(
        '[3,"42",{"status":"Accepted"}]',
        ocpp="2.0.1",
        station="cs-1",
        direction="toCSMS",
        answering=open_(first.text).answer_to,
        now=NOW,
    )
    result = EspReceiver([CSMS_REPLY]).decrypt_frame(
        answer.text,
        ocpp="2.0.1",
        station="cs-1",
        direction="toCSMS",
        pending=second.pending,
        now=NOW,
    )
    assert result.outcome is EspOutcome.UNDECRYPTABLE


def test_replayed_when_the_same_envelope_arrives_twice() -> None:
    rx = receiver(replay_cache=MemoryReplayCache())
    text = seal().text
    assert open_(text, rx=rx).outcome is EspOutcome.DECRYPTED
    assert open_(text, rx=rx).outcome is EspOutcome.REPLAYED


def test_a_forged_envelope_never_enters_the_replay_cache() -> None:
    cache = MemoryReplayCache()
    rx = receiver(replay_cache=cache)
    sealed = seal()
    ct = bytearray(b64url_decode(sealed.envelope["ct"]))
    ct[-1] ^= 1
    assert open_(outer_with(sealed.text, ct=b64url_encode(bytes(ct))), rx=rx).outcome is (
        EspOutcome.UNDECRYPTABLE
    )
    assert open_(sealed.text, rx=rx).outcome is EspOutcome.DECRYPTED


@pytest.mark.parametrize(
    ("plaintext", "reason"),
    [
        (b"not json", "not readable"),
        (b'[2,"1","A",{},{}]', "not readable"),
        (b'[3,"42",{}]', "carries a CALL"),
        (
            b'[2,"1","DataTransfer",{"vendorId":"org.ocpp-e2e","messageId":"esp/1","data":"{}"}]',
            "nest",
        ),
    ],
)
def test_invalid_inner_frame(plaintext: bytes, reason: str) -> None:
    opened = open_(seal_raw(plaintext))
    assert opened.outcome is EspOutcome.INVALID_INNER_FRAME and reason in opened.reason


def test_invalid_inner_frame_when_the_answer_has_another_id() -> None:
    sealed = seal()
    text = seal_raw(
        b'[3,"43",{}]', kind="response", frame_type=3, key=CSMS_REPLY, pending=sealed.pending
    )
    result = EspReceiver([CSMS_REPLY]).decrypt_frame(
        text, ocpp="2.0.1", station="cs-1", direction="toStation", pending=sealed.pending, now=NOW
    )
    assert result.outcome is EspOutcome.INVALID_INNER_FRAME and "id" in result.reason


def test_unknown_reply_key_when_the_receiver_does_not_know_it() -> None:
    opened = open_(seal(reply_to=X_OTHER.public).text)
    assert opened.outcome is EspOutcome.UNKNOWN_REPLY_KEY and X_OTHER.key_id in opened.reason


def test_unknown_reply_key_when_a_stations_request_names_another_identitys_key() -> None:
    # The request travels toward the CSMS on cs-2's connection, but the reply key is cs-1's.
    sealed = seal(station="cs-2", direction="toCSMS", reply_to=STATION_REPLY.public)
    opened = open_(sealed.text, station="cs-2", direction="toCSMS")
    assert opened.outcome is EspOutcome.UNKNOWN_REPLY_KEY and "cs-2" in opened.reason


def test_a_stations_request_with_its_own_reply_key_is_decrypted() -> None:
    sealed = seal(station="CS-1", direction="toCSMS", reply_to=STATION_REPLY.public)
    assert open_(sealed.text, direction="toCSMS").outcome is EspOutcome.DECRYPTED


def test_decrypt_frame_function_reads_like_the_receiver_method() -> None:
    opened = decrypt_frame(
        seal().text,
        EspReceiver([X]),
        ocpp="2.0.1",
        station="cs-1",
        direction="toStation",
        now=NOW,
        reply_keys=EspKeyring([EspKeyInfo(CSMS_REPLY.public, None)]),
    )
    assert opened.ok


# --------------------------------------------------------------------------- sender errors


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"reply_to": None}, "reply_to"),
        ({"suite": "MLKEM768X25519-SHA256-A256GCM"}, "needs a ML-KEM-768.X25519 key"),
        ({"suite": "nope"}, "unknown suite"),
        ({"recipient": None}, "recipient"),
    ],
)
def test_encrypt_refuses_with_the_reason(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(EncryptionError, match=reason):
        seal(**kwargs)


def test_encrypt_refuses_a_response_without_the_request_it_answers() -> None:
    with pytest.raises(EncryptionError, match="answering"):
        seal('[3,"42",{}]')


def test_encrypt_refuses_an_esp_frame_inside_an_esp_frame() -> None:
    with pytest.raises(EncryptionError, match="nest"):
        seal(seal().text)


def test_the_largest_inner_frame_still_fits_the_1_mib_frame_limit_when_encrypted() -> None:
    def frame(size: int) -> str:
        head = '[2,"42","DataTransfer",{"vendorId":"x","data":"'
        return head + "a" * (size - len(head) - 3) + '"}]'

    sealed = seal(frame(768_000), recipient=HYBRID.public)
    assert len(sealed.text.encode()) <= 1 << 20
    assert open_(sealed.text).outcome is EspOutcome.DECRYPTED
    with pytest.raises(EncryptionError, match="at most 768000"):
        seal(frame(768_001))


def test_encrypt_refuses_a_plaintext_over_the_limit() -> None:
    with pytest.raises(EncryptionError, match="at most 10"):
        seal(max_plaintext=10)


def test_encrypt_refuses_an_answer_with_another_id() -> None:
    opened = open_(seal().text)
    with pytest.raises(EncryptionError, match="not the request"):
        encrypt_frame(
            '[3,"41",{}]',
            ocpp="2.0.1",
            station="cs-1",
            direction="toCSMS",
            answering=opened.answer_to, now=datetime.now(UTC),
        )


def test_the_pending_request_keeps_r_of_the_inner_call() -> None:
    sealed = seal()
    assert sealed.pending.call == PendingCall.of(parse_frame(CALL))
    assert sealed.pending.reply_key_id == CSMS_REPLY.key_id


def test_the_info_is_the_rfc_8785_form_for_any_station_identity() -> None:
    odd = "".join(chr(i) for i in range(0x20)) + '"\\\u00e9\u2028\ue000\U0001f50c'
    info = _hpke_info(
        ocpp="2.0.1",
        station=odd,
        direction="toCSMS",
        kind="request",
        suite="s",
        recipient="r",
        timestamp="t",
        reply_to="k",
    )
    expected = {
        "esp": "org.ocpp-e2e/esp/1",
        "ocpp": "2.0.1",
        "station": normalize_station(odd),
        "direction": "toCSMS",
        "kind": "request",
        "suite": "s",
        "recipient": "r",
        "timestamp": "t",
        "replyTo": "k",
    }
    assert info == dumps(expected)
