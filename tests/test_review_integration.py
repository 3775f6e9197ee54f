"""Review findings on the ``ocpp`` adapter: hostile frames are refused, never crash the connection."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from test_integration import Station201, guard
from test_integration_harness import signer

from ocpp_e2e.integrations.ocpp import STATION, DecisionEvent
from ocpp_e2e.sign import sign_frame


class _Connection:
    """Records what the adapter sends; route_message is driven directly by the tests."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        self.sent.append(message)


def _station(tmp_path: Path, *, audit: bool = False) -> tuple[Station201, _Connection]:
    events: list[DecisionEvent] = []
    connection = _Connection()
    station = Station201(
        "CS-0001", connection, side=STATION, guard=guard(tmp_path, "station", events, audit=audit)
    )
    return station, connection


def _route(station: Station201, message: str) -> None:
    asyncio.run(station.route_message(message))


def _reset_with_17_signatures() -> str:
    text = sign_frame(
        '[2,"r-17","Reset",{"type":"Immediate"}]',
        signer("csms-operator"),
        ocpp="2.0.1",
        station="cs-0001", timestamp=datetime.now(UTC),
    )
    frame: list[Any] = json.loads(text)
    sigs = frame[3]["customData"]["signatures"]
    frame[3]["customData"]["signatures"] = sigs * 17
    return json.dumps(frame)


def test_call_with_17_signatures_is_refused_with_security_error(tmp_path: Path) -> None:
    station, connection = _station(tmp_path)
    _route(station, _reset_with_17_signatures())
    assert station.received == []
    assert len(connection.sent) == 1
    error = json.loads(connection.sent[0])
    assert error[:3] == [4, "r-17", "SecurityError"]
    assert error[3] == ("frame refused: customData: 17 signatures on one object; at most 16")


def test_deeply_nested_call_is_dropped_without_an_exception(tmp_path: Path) -> None:
    station, connection = _station(tmp_path)
    _route(station, '[2,"deep","Reset",' + "[" * 100_000 + "]" * 100_000 + "]")
    assert station.received == []
    assert connection.sent == []


def test_deeply_nested_frame_in_audit_mode_is_dropped_not_passed_to_the_ocpp_package(
    tmp_path: Path,
) -> None:
    # The ocpp package could not read it either (its reader would raise RecursionError and end
    # the receive loop), so audit mode drops it too.
    station, connection = _station(tmp_path, audit=True)
    _route(station, '[2,"deep","Reset",' + "[" * 100_000 + "]" * 100_000 + "]")
    assert station.received == []
    assert connection.sent == []


def test_an_unsolicited_refused_response_is_not_kept(tmp_path: Path) -> None:
    # Only a call() waiting for a message id collects a refusal; keeping the others would let a
    # peer grow the adapter's memory without bound.
    station, _ = _station(tmp_path)
    for i in range(50):
        _route(station, f'[3,"nobody-asked-{i}",{{"status":"Accepted"}}]')
    assert station._refused == {}


def test_an_enforcing_guard_with_a_memory_replay_cache_refuses_signatures_from_before_its_start(
    tmp_path: Path,
) -> None:
    # SPEC §4: a replay cache that forgets on restart is allowed only if signatures dated before
    # the start are refused; otherwise a replay right after a restart would pass.
    from datetime import UTC, datetime, timedelta

    from test_integration import DATA

    from ocpp_e2e.frames import parse_frame
    from ocpp_e2e.integrations.ocpp import Guard
    from ocpp_e2e.model import Outcome
    from ocpp_e2e.policy import loads_policy
    from ocpp_e2e.replay import MemoryReplayCache, SQLiteReplayCache

    start = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    policy = loads_policy((DATA / "station-policy.yaml").read_text(), fmt="yaml", source="station")
    before = sign_frame(
        '[2,"1","Reset",{"type":"Immediate"}]', signer("csms-operator"), ocpp="2.0.1",
        station="cs-0001", timestamp=start - timedelta(seconds=5),
    )  # fmt: skip
    forgetful = Guard(
        policy, policy.verifier(replay_cache=MemoryReplayCache()), clock=lambda: start
    )
    durable = Guard(
        policy,
        policy.verifier(replay_cache=SQLiteReplayCache(tmp_path / "replay.sqlite")),
        clock=lambda: start,
    )
    frame = parse_frame(before)
    (refused,) = forgetful.check(frame, ocpp="2.0.1", station="cs-0001")[0].signatures
    (kept,) = durable.check(frame, ocpp="2.0.1", station="cs-0001")[0].signatures
    assert refused.outcome is Outcome.EXPIRED
    assert "before this verifier started" in refused.reason
    assert kept.outcome is not Outcome.EXPIRED


def test_an_unreadable_response_makes_call_raise_at_once_not_time_out(tmp_path: Path) -> None:
    # Issue #8: a refused CALLRESULT is raised to the caller as a typed exception; that includes
    # one that is not even strict I-JSON (here a duplicate member), which never reaches handlers.
    import pytest
    from ocpp.v201 import call

    from ocpp_e2e.integrations.ocpp import ResponseUnreadable

    async def scenario() -> None:
        station, connection = _station(tmp_path)
        boot = call.Heartbeat()
        waiting = asyncio.create_task(station.call(boot))
        while not connection.sent:  # until the station has sent its CALL
            await asyncio.sleep(0)
        message_id = json.loads(connection.sent[0])[1]
        reply = '[3,"' + message_id + '",{"currentTime":"2026-11-22T12:00:00Z","currentTime":"x"}]'
        await station.route_message(reply)
        with pytest.raises(ResponseUnreadable, match="duplicate member"):
            await asyncio.wait_for(waiting, timeout=5)
        assert station._refused == {}

    asyncio.run(scenario())
