"""Issue #12: the sans-IO guard on its own (frames in, actions out; no sockets)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from test_integration_harness import DATA

from ocpp_e2e.guard import (
    CSMS,
    STATION,
    Answer,
    Deliver,
    Drop,
    Guard,
    GuardSettings,
    RefuseResponse,
    ResponseRefused,
)
from ocpp_e2e.guard import core as guard_core
from ocpp_e2e.integrations.ocpp import ChargePoint201
from ocpp_e2e.policy import load_policy
from ocpp_e2e.replay import MemoryReplayCache


def make_guard(name: str = "csms", **kwargs: Any) -> Guard:
    policy = load_policy(DATA / f"{name}-policy.yaml")
    kwargs.setdefault("clock", lambda: datetime.now(UTC))
    return Guard(policy, policy.verifier(), replay_cache=MemoryReplayCache(), **kwargs)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_an_unsigned_permitted_frame_is_delivered_exactly_as_received() -> None:
    conn = make_guard().connection("CS-1", ocpp="2.0.1", side=CSMS)
    data = b'[2,  "7", "Heartbeat",\n {} ]'
    action = run(conn.receive(data))
    assert isinstance(action, Deliver)
    assert action.data is data and action.message is data
    assert action.event.decision.rule == "liveness-unsigned"


def test_a_refused_call_is_answered_with_security_error_naming_the_reason() -> None:
    conn = make_guard().connection("CS-1", ocpp="2.0.1", side=CSMS)
    action = run(
        conn.receive('[2, "9", "Authorize", {"idToken": {"idToken": "x", "type": "ISO14443"}}]')
    )
    assert isinstance(action, Answer)
    assert json.loads(action.frame) == [
        4,
        "9",
        "SecurityError",
        "no rule permits Authorize request; default deny",
        {
            "reason": "no rule permits Authorize request; default deny",
            "rule": None,
            "policy": "integration-csms",
        },
    ]


def test_a_bug_while_judging_a_call_answers_internal_error_without_the_exception_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret-token-123")

    monkeypatch.setattr(guard_core, "evaluate", broken)
    seen: list[Any] = []
    conn = make_guard(hooks=[seen.append]).connection("CS-1", ocpp="2.0.1", side=CSMS)
    action = run(conn.receive('[2, "5", "Heartbeat", {}]'))
    assert isinstance(action, Answer)
    frame = json.loads(action.frame)
    assert frame[:4] == [4, "5", "InternalError", "internal error (RuntimeError)"]
    assert "secret" not in action.frame
    assert [(e.failure, e.action, e.enforced) for e in seen] == [
        ("internal-error", "Heartbeat", True)
    ]


def test_a_frame_without_a_readable_id_is_dropped_and_still_reported() -> None:
    seen: list[Any] = []
    conn = make_guard(hooks=[seen.append]).connection("CS-1", ocpp="2.0.1", side=CSMS)
    action = run(conn.receive(b'[2, "x", "Heartbeat", {"a": "\xff"}]'))
    assert isinstance(action, Answer)  # the id is readable: the peer learns why
    assert "invalid UTF-8" in action.reason
    action = run(
        conn.receive("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]")
    )
    assert isinstance(action, Drop)
    assert [e.failure for e in seen] == ["unreadable", "unreadable"]


def test_a_refused_answer_to_our_call_refuses_the_waiting_call() -> None:
    conn = make_guard().connection("CS-1", ocpp="2.0.1", side=CSMS)

    async def scenario() -> Any:
        await conn.send('[2, "c1", "Reset", {"type": "Immediate"}]')
        return await conn.receive('[3, "c1", {"status": "Accepted"}]')

    action = run(scenario())
    assert isinstance(action, RefuseResponse)
    assert isinstance(action.error, ResponseRefused)
    assert action.error.action == "Reset"
    assert json.loads(action.stand_in)[:3] == [4, "c1", "SecurityError"]


class _Socket:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def recv(self) -> str:  # pragma: no cover - the receive loop is not started here
        await asyncio.Event().wait()
        return ""


def test_refused_answers_that_nobody_collects_are_kept_at_most_max_refused() -> None:
    guard = make_guard(settings=GuardSettings(max_refused=3))
    cp = ChargePoint201("CS-1", _Socket(), side=CSMS, guard=guard)

    async def scenario() -> None:
        for i in range(10):  # our CALLs, whose call() timed out long ago
            await cp._send(f'[2, "c{i}", "Reset", {{"type": "Immediate"}}]')
        for i in range(10):  # unsigned answers arriving late: refused, and kept for nobody
            await cp.route_message(f'[3, "c{i}", {{"status": "Accepted"}}]')

    run(scenario())
    assert list(cp._refused) == ["c7", "c8", "c9"]


def test_settings_refuse_unbounded_waits() -> None:
    with pytest.raises(ValueError, match="replay_timeout must be more than 0"):
        GuardSettings(replay_timeout=0)
    with pytest.raises(ValueError, match="max_refused must be at least 1"):
        GuardSettings(max_refused=0)


def test_a_side_that_is_neither_csms_nor_station_is_refused() -> None:
    with pytest.raises(ValueError, match="side must be 'csms' or 'station'"):
        make_guard().connection("CS-1", ocpp="2.0.1", side="relay")
    assert STATION == "station"


# --------------------------------------------------------------------------- SPEC §3 R, reasons


def test_request_digest_binds_the_first_signature_not_later_ones() -> None:
    from test_integration_harness import signer

    from ocpp_e2e.context import request_digest
    from ocpp_e2e.frames import parse_frame
    from ocpp_e2e.sign import sign_frame

    text = '[2, "1", "Reset", {"type": "Immediate"}]'
    first = sign_frame(text, signer("csms-operator"), ocpp="2.0.1", station="cs-1", timestamp=datetime.now(UTC))
    again = sign_frame(text, signer("csms-operator"), ocpp="2.0.1", station="cs-1", timestamp=datetime.now(UTC))
    relayed = sign_frame(first, signer("relay-node"), ocpp="2.0.1", station="cs-1", chained=True, timestamp=datetime.now(UTC))
    r = [request_digest(parse_frame(t)) for t in (text, first, again, relayed)]
    assert len(set(r[:3])) == 3  # unsigned, and two identical commands with different nonces
    assert r[3] == r[1]  # a relay only appends: both ends compute the same R


def _signed_reset(**kwargs: Any) -> str:
    from test_integration_harness import signer

    from ocpp_e2e.sign import sign_frame

    kwargs.setdefault("timestamp", datetime.now(UTC))
    return sign_frame(
        '[2, "1", "Reset", {"type": "Immediate"}]',
        kwargs.pop("by", signer("csms-operator")),
        ocpp="2.0.1",
        station="CS-1",
        **kwargs,
    )


def test_an_expired_signature_is_named_before_no_rule_permits() -> None:
    from datetime import UTC, datetime

    conn = make_guard("station").connection("CS-1", ocpp="2.0.1", side=STATION)
    old = _signed_reset(timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    action = run(conn.receive(old))
    assert isinstance(action, Answer)
    assert action.reason.startswith(
        "signature #0 of ops-1 is expired: signed at 2026-01-01T00:00:00"
    )
    assert action.reason.endswith("; no rule permits Reset request; default deny")


def test_an_unknown_key_is_named_before_no_rule_permits() -> None:
    from ocpp_e2e.keys import KeySigner, generate_private_key

    stranger = KeySigner(generate_private_key("Ed25519"))
    conn = make_guard("station").connection("CS-1", ocpp="2.0.1", side=STATION)
    action = run(conn.receive(_signed_reset(by=stranger)))
    assert isinstance(action, Answer)
    assert action.reason.startswith(
        f"signature #0 of {stranger.key_id} is unknown-key: key {stranger.key_id} is not in the keyring"
    )


def test_a_frame_denied_for_its_action_alone_does_not_blame_its_signatures() -> None:
    from ocpp_e2e.keys import KeySigner, generate_private_key

    stranger = KeySigner(generate_private_key("Ed25519"))
    conn = make_guard("station").connection("CS-1", ocpp="2.0.1", side=STATION)
    text = '[2, "1", "DataTransfer", {"vendorId": "x"}]'
    from ocpp_e2e.sign import sign_frame

    action = run(conn.receive(sign_frame(text, stranger, ocpp="2.0.1", station="CS-1", timestamp=datetime.now(UTC))))
    assert isinstance(action, Answer)
    assert action.reason == "no rule permits DataTransfer request; default deny"
