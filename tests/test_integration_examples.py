"""The examples/websocket demo runs: CSMS, relaying node and station on loopback, in one process."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest
from test_integration_harness import ROOT, bounded

sys.path.insert(0, str(ROOT / "examples" / "websocket"))

import csms as demo_csms  # type: ignore[import-not-found]
import relay as demo_relay  # type: ignore[import-not-found]
import station as demo_station  # type: ignore[import-not-found]


def test_demo_onboards_over_16_then_runs_signed_commands_through_the_relay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        csms_port: asyncio.Future[int] = loop.create_future()
        relay_port: asyncio.Future[int] = loop.create_future()
        csms_task = asyncio.create_task(demo_csms.run_csms(0, tmp_path / "csms", csms_port))
        upstream = f"ws://127.0.0.1:{await csms_port}/ocpp"
        relay_task = asyncio.create_task(demo_relay.run_relay(0, upstream, relay_port))
        try:
            await demo_station.run_station(upstream, "1.6", tmp_path / "station")
            via_relay = f"ws://127.0.0.1:{await relay_port}/ocpp"
            await demo_station.run_station(via_relay, "2.0.1", tmp_path / "station")
        finally:
            for task in (csms_task, relay_task):
                task.cancel()
            await asyncio.gather(csms_task, relay_task, return_exceptions=True)

    bounded(scenario)
    text = caplog.text
    assert "station: BootNotification -> Pending" in text
    assert "the factory key is void" in text
    assert "station: onboarded, Heartbeat answered" in text
    assert "CSMS: grid SetChargingProfile -> Accepted" in text
    assert "CSMS: four-eyes UpdateFirmware -> Accepted" in text
    assert "refused: no rule permits SetChargingProfile request; default deny" in text
    assert (
        "permitted by rule grid-limit; signers: dso-example [grid-operator], relay-1 [relay]"
        in text
    )
