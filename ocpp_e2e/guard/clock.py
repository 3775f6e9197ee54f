"""SPEC §4 "now" for a station: a clock that unverified OCPP data cannot set.

>>> from datetime import UTC, datetime, timedelta
>>> system = lambda: datetime.now(UTC)  # the caller's clock: the library reads none itself
>>> TrustedClock(clock_skew=timedelta(seconds=30), source=system).offset
datetime.timedelta(0)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .._time import parse_rfc3339
from ..model import Verification
from ..policy import Decision, Effect

__all__ = [
    "ClockUpdate",
    "TrustedClock",
]

LOGGER = logging.getLogger("ocpp_e2e.guard")


@dataclass(frozen=True)
class ClockUpdate:
    """What :meth:`TrustedClock.update` did, and why."""

    applied: bool
    reason: str
    offset: timedelta


class TrustedClock:
    """A station's clock for verification "now" that unverified OCPP data cannot set (SPEC §4).

    The clock is ``source`` (the caller's clock, e.g.
    :func:`ocpp_e2e.integrations.system_clock`) plus an offset. :meth:`update` moves it to a CSMS
    ``currentTime`` only when the response is ``valid`` (every signature), permitted by the
    policy, and signed by a key holding a CSMS role (``csms_roles`` of the policy, or the
    ``csmsOperator`` certificate usage). It never reads earlier than ``clock_skew`` before the
    latest time it has shown, so a run of signed responses cannot walk it back either.

    >>> from datetime import UTC, datetime
    >>> clock = TrustedClock(clock_skew=timedelta(seconds=30), source=lambda: datetime.now(UTC))
    >>> clock.offset
    datetime.timedelta(0)
    """

    def __init__(
        self,
        *,
        clock_skew: timedelta,
        csms_roles: Iterable[str] = (),
        csms_usages: Iterable[str] = ("csmsOperator",),
        source: Callable[[], datetime],
    ) -> None:
        self.clock_skew = clock_skew
        self.csms_roles = frozenset(csms_roles)
        self.csms_usages = frozenset(csms_usages)
        self._source = source
        self.offset = timedelta(0)
        self._high_water: datetime | None = None

    def now(self) -> datetime:
        """The current trusted time (UTC)."""
        now = self._source() + self.offset
        if self._high_water is None or now > self._high_water:
            self._high_water = now
        return now

    def _csms_signer(self, verification: Verification, decision: Decision) -> str | None:
        for signer in decision.signers:
            if signer.roles & self.csms_roles:
                return signer.identity
        for sig in verification.valid_signers:
            if sig.usages & self.csms_usages:
                return sig.identity or sig.key_id
        return None

    def update(
        self, current_time: Any, verification: Verification, decision: Decision
    ) -> ClockUpdate:
        """Set the clock from a response's ``currentTime`` if SPEC §4 allows it."""

        def refuse(reason: str) -> ClockUpdate:
            LOGGER.info("clock not set from currentTime: %s", reason)
            return ClockUpdate(False, reason, self.offset)

        if not isinstance(current_time, str):
            return refuse("the response has no currentTime string")
        if not verification.all_valid:
            return refuse("the response is not validly signed (every signature must be valid)")
        if decision.effect is not Effect.PERMIT:
            return refuse(f"the policy did not permit the response ({decision.reason})")
        who = self._csms_signer(verification, decision)
        if who is None:
            return refuse("no signer of the response holds a CSMS role")
        try:
            when = parse_rfc3339(current_time)
        except ValueError as exc:
            return refuse(str(exc))
        reading = self.now()  # counts as shown, however long since the clock was last read
        floor = max(reading, self._high_water or reading) - self.clock_skew
        if when < floor:
            return refuse(
                f"currentTime {current_time} is more than clockSkew before the clock's latest time"
            )
        self.offset = when - self._source()
        return ClockUpdate(True, f"set from currentTime signed by {who}", self.offset)
