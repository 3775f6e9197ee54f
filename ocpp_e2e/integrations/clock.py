"""The system clock, read at the edges of the library.

The library judges time only as it is told (every verification, decision, signature and
certificate takes ``now=``, ``timestamp=``, ``not_before=`` or a clock): it never reads a clock
that unverified OCPP data could have set. The programs around it — the CLI, the gateway process
and the ``ocpp`` package adapters' users — read the system clock here and pass it on, e.g.
``Guard(policy, verifier, clock=system_clock)`` or ``verifier.verify_frame(..., now=system_clock())``.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["system_clock"]


def system_clock() -> datetime:
    """The system clock, in UTC (an aware datetime)."""
    return datetime.now(UTC)
