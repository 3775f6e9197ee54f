"""Keeping CPython's full garbage collections off the gateway's frame path.

A gateway with 1,000 stations holds about 180,000 objects the cyclic garbage collector tracks
(two WebSocket connections per station: protocol state, tasks, futures, buffers) besides about
60,000 from its imports and configuration, and every frame replaces each connection's waiting
state (about 50 objects that live until the station's next frame). CPython's automatic *full*
collection walks all of them with the event loop stopped — measured 35–600 ms, every few seconds
to tens of seconds under steady traffic: the largest source of the gateway's tail latency
(docs/gateway.md, Performance).

Relaying frames creates no reference cycles (measured: 0 cyclic objects per frame exchange, signed,
verified, signed on behalf, logged); cycles come from connections that close (about 10 objects
each). So :class:`Collector` turns the automatic full collections off and runs them itself when
there can be something to find:

* at start, after the configuration, policies and keys are loaded: one full collection, then the
  survivors are frozen (:func:`gc.freeze`: never walked again);
* the young generations are still collected automatically (a millisecond or two each);
* one full collection after ``full_after`` connection events (stations connecting or leaving),
  and at least every ``full_interval`` seconds (cycles from anything else: errors, reloads).
  Memory stays bounded by ``full_after`` closed connections' cycles plus what ``full_interval``
  seconds can leave.

The garbage collector's thresholds are process-wide: :meth:`Collector.stop` puts them back, and the
gateway uses a collector only when asked (the ``ocpp-e2e gateway`` command does).

>>> import asyncio, gc
>>> async def demo() -> list[int]:
...     collector = Collector(full_after=2, full_interval=3600)
...     collector.start()
...     automatic = gc.get_threshold()[2]
...     collector.opened()
...     await asyncio.sleep(0.01)
...     seen = [collector.full_collections]
...     collector.closed()  # the second connection event: a full collection is due
...     await asyncio.sleep(0.01)
...     seen.append(collector.full_collections)
...     collector.stop()
...     return [automatic > 10**9, *seen, gc.get_threshold()[2] > 10**9]
>>> asyncio.run(demo())
[True, 0, 1, False]
"""

from __future__ import annotations

import asyncio
import collections
import gc
import time
from collections.abc import Callable
from typing import Any

#: A full-collection threshold never reached: automatic full collections are off.
_NEVER = 2**31 - 1


class Collector:
    """Runs CPython's full garbage collections when connections change, not amid traffic.

    ``on_pause(generation, seconds)`` gets every collection's duration (automatic or not), for the
    gateway's metrics: on the event loop, once a second (a collection can start in any thread,
    and its callback must not take locks that the interrupted code may hold).
    """

    def __init__(
        self,
        *,
        full_after: int = 1000,
        full_interval: float = 3600.0,
        on_pause: Callable[[int, float], None] | None = None,
    ) -> None:
        if full_after < 1:
            raise ValueError("full_after must be at least 1")
        if full_interval <= 0:
            raise ValueError("full_interval must be positive")
        self.full_after = full_after
        self.full_interval = full_interval
        self._on_pause = on_pause
        self._events = 0
        self._thresholds: tuple[int, int, int] | None = None
        self._full_due: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._started_at = 0.0
        self._pauses: collections.deque[tuple[int, float]] = collections.deque(maxlen=100_000)
        self._drain_due: asyncio.TimerHandle | None = None
        #: Full collections run by this collector (for tests and logs).
        self.full_collections = 0

    @property
    def running(self) -> bool:
        return self._thresholds is not None

    def start(self) -> None:
        """Collect everything once, freeze what survived and turn automatic full collections off."""
        if self.running:
            return
        self._thresholds = gc.get_threshold()
        gc.callbacks.append(self._callback)
        gc.collect()
        gc.freeze()
        first, second, _third = self._thresholds
        gc.set_threshold(first, second, _NEVER)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.full_interval, self._full)
        self._drain_due = loop.call_later(1.0, self._drain)

    def stop(self) -> None:
        """Put the thresholds back and give every frozen object back to the collector."""
        if self._thresholds is None:
            return
        gc.set_threshold(*self._thresholds)
        self._thresholds = None
        for handle in (self._full_due, self._timer, self._drain_due):
            if handle is not None:
                handle.cancel()
        self._full_due = self._timer = self._drain_due = None
        gc.unfreeze()
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        self._report()

    def opened(self) -> None:
        """A station connection is established."""
        self._count_event()

    def closed(self) -> None:
        """A station connection ended: its cycles wait for the next full collection."""
        self._count_event()

    def _count_event(self) -> None:
        if not self.running:
            return
        self._events += 1
        if self._events >= self.full_after and self._full_due is None:
            self._full_due = asyncio.get_running_loop().call_soon(self._full)

    def _full(self) -> None:
        self._full_due = None
        if not self.running:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._events = 0
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.full_collections += 1
        self._timer = asyncio.get_running_loop().call_later(self.full_interval, self._full)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        # no locks, no allocation of tracked objects beyond a tuple: runs inside a collection
        if phase == "start":
            self._started_at = time.perf_counter()
        else:
            self._pauses.append((info["generation"], time.perf_counter() - self._started_at))

    def _drain(self) -> None:
        self._report()
        if self.running:
            self._drain_due = asyncio.get_running_loop().call_later(1.0, self._drain)

    def _report(self) -> None:
        while self._pauses:
            generation, seconds = self._pauses.popleft()
            if self._on_pause is not None:
                self._on_pause(generation, seconds)


__all__ = ["Collector"]
