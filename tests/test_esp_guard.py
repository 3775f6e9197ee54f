"""The guard with ESP, sans-IO (ocpp_e2e.guard.EspConnection): how answers to our encrypted CALLs
are read, refused or passed, and replays of envelopes. No sockets, no sleeps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from ocpp_e2e.canonical import dumps
from ocpp_e2e.esp import (
    EncryptionError,
    EspKeyInfo,
    EspKeyring,
    EspReceiver,
    encrypt_frame,
    generate_esp_key,
)
from ocpp_e2e.guard import (
    CSMS,
    STATION,
    Answer,
    Deliver,
    EncryptRule,
    EspConnection,
    EspSettings,
    Guard,
    RefuseResponse,
)
from ocpp_e2e.policy import Policy
from ocpp_e2e.replay import MemoryReplayCache, ReplayCacheUnavailable

NOW = datetime(2026, 12, 7, 22, 40, tzinfo=UTC)
POLICY = Policy.from_dict(
    {
        "type": "SignaturePolicy",
        "id": "open",
        "version": 1,
        "mode": "enforce",
        "rules": [{"id": "anything", "effect": "permit", "signers": "none"}],
    }
)
CSMS_KEY = generate_esp_key("ML-KEM-768+X25519")
STATION_KEY = generate_esp_key("X25519")


def csms_side() -> EspConnection:
    guard = Guard(POLICY, POLICY.verifier(), replay_cache=MemoryReplayCache(), clock=lambda: NOW)
    stations = EspKeyring([EspKeyInfo(STATION_KEY.public, "cs-1")])
    settings = EspSettings(
        EspReceiver([CSMS_KEY], reply_keys=stations, replay_cache=MemoryReplayCache()),
        peer_keys=stations,
        reply_key=CSMS_KEY,
        encrypt=[EncryptRule(actions=["Reset"])],
    )
    return EspConnection(guard.connection("CS-1", ocpp="2.0.1", side=CSMS), settings)


def station_receiver() -> EspReceiver:
    return EspReceiver([STATION_KEY], reply_keys=EspKeyring([EspKeyInfo(CSMS_KEY.public, "csms")]))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_our_encrypted_call_and_its_encrypted_answer() -> None:
    conn = csms_side()

    async def scenario() -> Any:
        outer = await conn.send('[2,"r1","Reset",{"type":"Immediate"}]')
        opened = station_receiver().decrypt_frame(
            outer, ocpp="2.0.1", station="cs-1", direction="toStation", now=NOW
        )
        assert opened.ok, opened.reason
        answer = encrypt_frame(
            '[3,"r1",{"status":"Accepted"}]',
            ocpp="2.0.1",
            station="cs-1",
            direction="toCSMS",
            answering=opened.answer_to,
            now=NOW,
        )
        return await conn.receive(answer.text)

    action = run(scenario())
    assert isinstance(action, Deliver) and action.message == '[3,"r1",{"status":"Accepted"}]'


def test_actions_no_rule_names_go_out_as_written() -> None:
    conn = csms_side()
    text = '[2,"h1","GetVariables",{"getVariableData":[]}]'
    assert run(conn.send(text)) == text


def test_an_answer_that_does_not_decrypt_fails_the_call_with_the_outcome() -> None:
    conn = csms_side()

    async def scenario() -> Any:
        await conn.send('[2,"r2","Reset",{"type":"Immediate"}]')
        # An answer encrypted to a key the request did not name.
        bogus = dumps([3, "r2", {"status": "Accepted", "data": '{"x":1}'}]).decode()
        return await conn.receive(bogus)

    action = run(scenario())
    assert isinstance(action, RefuseResponse)
    assert action.action == "Reset" and "malformed" in str(action.error)
    assert action.event.failure == "esp-malformed"


def test_a_receiver_without_esp_answers_unknown_vendor_and_the_call_fails() -> None:
    conn = csms_side()

    async def scenario() -> Any:
        await conn.send('[2,"r3","Reset",{"type":"Immediate"}]')
        return await conn.receive('[3,"r3",{"status":"UnknownVendorId"}]')

    action = run(scenario())
    assert isinstance(action, RefuseResponse) and "UnknownVendorId" in str(action.error)


def test_a_plaintext_callerror_to_our_encrypted_call_is_judged_as_such() -> None:
    conn = csms_side()

    async def scenario() -> Any:
        await conn.send('[2,"r4","Reset",{"type":"Immediate"}]')
        return await conn.receive(
            '[4,"r4","SecurityError","esp: wrong-recipient",{"esp":"wrong-recipient"}]'
        )

    action = run(scenario())
    assert isinstance(action, Deliver) and action.frame is not None
    assert action.frame.error_code == "SecurityError"


def test_a_replayed_envelope_is_answered_with_its_outcome() -> None:
    conn = csms_side()
    request = encrypt_frame(
        '[2,"s1","Heartbeat",{}]',
        ocpp="2.0.1",
        station="CS-1",
        direction="toCSMS",
        recipient=CSMS_KEY.public,
        reply_to=STATION_KEY.public,
        now=NOW,
    )

    async def scenario() -> tuple[Any, Any]:
        return await conn.receive(request.text), await conn.receive(request.text)

    first, second = run(scenario())
    assert isinstance(first, Deliver)
    assert isinstance(second, Answer)
    assert '"esp":"replayed"' in second.frame.replace(" ", "")


def test_a_replay_cache_that_does_not_answer_fails_closed() -> None:
    class Stuck:
        survives_restart = True

        def check_and_add(self, *args: Any) -> bool:
            raise AssertionError("the async method is used on an event loop")

        async def check_and_add_async(self, *args: Any) -> bool:
            await asyncio.Event().wait()
            return False

    receiver = EspReceiver([CSMS_KEY], replay_cache=Stuck())  # type: ignore[arg-type]
    request = encrypt_frame(
        '[6,"s2","NotifyPeriodicEventStream",{}]',
        ocpp="2.1",
        station="cs-1",
        direction="toCSMS",
        recipient=CSMS_KEY.public,
        now=NOW,
    )
    with pytest.raises(ReplayCacheUnavailable, match=r"no answer within 0\.05 s"):
        run(
            receiver.decrypt_frame_async(
                request.text,
                ocpp="2.1",
                station="cs-1",
                direction="toCSMS",
                now=NOW,
                replay_timeout=0.05,
            )
        )


def test_a_station_encrypts_to_the_key_named_csms() -> None:
    guard = Guard(POLICY, POLICY.verifier(), replay_cache=MemoryReplayCache(), clock=lambda: NOW)
    settings = EspSettings(
        EspReceiver([STATION_KEY], replay_cache=MemoryReplayCache()),
        peer_keys=EspKeyring([EspKeyInfo(CSMS_KEY.public, "CSMS")]),
        reply_key=STATION_KEY,
        encrypt=[EncryptRule()],
    )
    conn = EspConnection(guard.connection("CS-1", ocpp="2.0.1", side=STATION), settings)
    outer = run(conn.send('[2,"b1","BootNotification",{"reason":"PowerUp"}]'))
    assert "BootNotification" not in outer
    assert CSMS_KEY.key_id in outer


def test_the_reply_key_must_be_the_receivers_own() -> None:
    with pytest.raises(EncryptionError, match="reply key must be one of"):
        EspSettings(EspReceiver([CSMS_KEY]), peer_keys=EspKeyring(), reply_key=STATION_KEY)


def test_an_encrypt_rule_names_requests_and_sends_only() -> None:
    with pytest.raises(ValueError, match="answers to encrypted requests"):
        EncryptRule(kinds=["response"])


def test_another_esp_version_is_answered_unknown_message_id() -> None:
    conn = csms_side()
    request = encrypt_frame(
        '[2,"v2","Heartbeat",{}]',
        ocpp="2.0.1",
        station="CS-1",
        direction="toCSMS",
        recipient=CSMS_KEY.public,
        reply_to=STATION_KEY.public,
        now=NOW,
    ).text.replace('"esp/1"', '"esp/2"')
    action = run(conn.receive(request))
    assert isinstance(action, Answer)
    assert action.frame == '[3,"v2",{"status":"UnknownMessageId"}]'


def test_large_frames_are_sealed_and_opened_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threaded: list[str] = []
    real = asyncio.to_thread

    async def spy(fn: Any, *args: Any, **kwargs: Any) -> Any:
        threaded.append(getattr(fn, "__name__", None) or fn.func.__name__)
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", spy)
    conn = csms_side()
    big = (
        '[2,"L1","Reset",{"type":"Immediate","customData":{"vendorId":"x","pad":"'
        + "p" * 100_000
        + '"}}]'
    )

    async def scenario() -> Any:
        outer = await conn.send(big)
        opened = await station_receiver().decrypt_frame_async(
            outer, ocpp="2.0.1", station="cs-1", direction="toStation", now=NOW
        )
        return opened

    opened = run(scenario())
    assert opened.ok and opened.inner == big.encode()
    assert threaded == ["encrypt_frame", "_open"]
