"""The gateway's garbage-collection management: no automatic full collection amid traffic, full
collections after connection events, every cycle still collected, process state put back
(issue 17, tail latency)."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import weakref
from pathlib import Path

import pytest
from gateway_harness import RawCsms, recv_text, run, station, write_config

from ocpp_e2e.gateway import Gateway, load_config
from ocpp_e2e.gateway.collector import Collector


class _Node:
    def __init__(self) -> None:
        self.me = self


def _old_cycle() -> weakref.ref[_Node]:
    """A reference cycle old enough to sit in the oldest generation, then dropped."""
    node = _Node()
    gc.collect(1)
    gc.collect(1)  # survived two young collections: now in the oldest generation
    return weakref.ref(node)


def test_collector_turns_automatic_full_collections_off_and_puts_the_thresholds_back() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()

    async def scenario() -> None:
        collector = Collector(full_after=3)
        collector.start()
        try:
            first, second, third = gc.get_threshold()
            assert (first, second) == before[:2] and third == 2**31 - 1
            assert gc.get_freeze_count() > frozen  # the start's survivors are frozen
        finally:
            collector.stop()

    asyncio.run(scenario())
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_dropped_cycle_waits_for_connection_events_then_the_full_collection_frees_it() -> None:
    async def scenario() -> None:
        collector = Collector(full_after=2)
        collector.start()
        try:
            dead = _old_cycle()
            for _ in range(3):
                gc.collect(1)  # young collections never reach the oldest generation
            assert dead() is not None
            collector.opened()
            await asyncio.sleep(0)
            assert dead() is not None and collector.full_collections == 0
            collector.closed()  # the second event: the full collection runs next
            await asyncio.sleep(0)
            assert collector.full_collections == 1
            assert dead() is None
        finally:
            collector.stop()

    asyncio.run(scenario())


def test_the_full_collection_also_runs_every_full_interval_without_connection_events() -> None:
    async def scenario() -> None:
        collector = Collector(full_after=1000, full_interval=0.01)
        collector.start()
        try:
            dead = _old_cycle()
            async with asyncio.timeout(5):
                while collector.full_collections == 0:
                    await asyncio.sleep(0.01)
            assert dead() is None
        finally:
            collector.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"full_after": 0}, "full_after must be at least 1"),
        ({"full_interval": 0.0}, "full_interval must be positive"),
    ],
)
def test_collector_settings_out_of_range_are_refused(
    arguments: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Collector(**arguments)  # type: ignore[arg-type]


def test_managed_gateway_collects_fully_when_stations_leave_and_reports_pauses(
    tmp_path: Path,
) -> None:
    before = gc.get_threshold()

    async def scenario() -> None:
        async with RawCsms() as csms:
            config = write_config(
                tmp_path,
                f"""\
listen: {{host: 127.0.0.1, port: 0, path: /ocpp}}
upstream: {{url: "{csms.url}", connectTimeout: 2}}
stations:
  - group: all
    identities: ["CS-*"]
""",
            )
            gateway = Gateway(load_config(config), manage_gc=True)
            await gateway.start()
            try:
                collector = gateway.collector
                assert collector is not None and collector.running
                collector.full_after = 4
                assert gc.get_threshold()[2] == 2**31 - 1
                async with station(gateway, "CS-1") as one, station(gateway, "CS-2") as two:
                    for n in range(50):
                        frame = f'[2,"m{n}","Heartbeat",{{}}]'
                        await one.send(frame)
                        assert await csms.next() == frame
                        assert json.loads(await recv_text(one))[1] == f"m{n}"
                    await two.send('[2,"x","Heartbeat",{}]')
                    assert json.loads(await recv_text(two))[1] == "x"
                    assert collector.full_collections == 0  # traffic alone: none
                async with asyncio.timeout(5):  # both left: the fourth connection event
                    while collector.full_collections == 0:
                        await asyncio.sleep(0.01)
            finally:
                await gateway.stop()
            assert not collector.running
            text = gateway.metrics.exposition().decode()
            found = re.search(
                r'ocpp_e2e_gateway_gc_pause_seconds_count\{generation="2"\} (\d+)', text
            )
            assert found is not None and int(found.group(1)) >= 2  # the start's and the one above

    run(scenario)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_unmanaged_gateway_leaves_the_collector_alone(tmp_path: Path) -> None:
    before = gc.get_threshold()

    async def scenario() -> None:
        config = write_config(
            tmp_path,
            """\
listen: {host: 127.0.0.1, port: 0}
upstream: {url: "ws://127.0.0.1:9/ocpp"}
stations: [{group: all, identities: ["CS-*"]}]
""",
        )
        gateway = Gateway(load_config(config))
        await gateway.start()
        try:
            assert gateway.collector is None
            assert gc.get_threshold() == before
        finally:
            await gateway.stop()

    asyncio.run(scenario())
