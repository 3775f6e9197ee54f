"""Review findings on the ``ocpp`` adapter: hostile frames are refused, never crash the connection."""

from __future__ import annotations

import asyncio
import json
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
        station="cs-0001",
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
