"""Enforcement without I/O: the sans-IO :class:`Guard` that adapters and gateways wrap.

Fed a frame's bytes and its direction, a :class:`GuardConnection` returns what to do
(:class:`Deliver`, :class:`Answer`, :class:`RefuseResponse`, :class:`Drop`) and signs what the
application sends; the replay cache, signers and hooks are awaited with bounded waits. See
``docs/architecture.md`` ("The guard") for the contract a transport follows.

>>> from datetime import UTC, datetime
>>> from ocpp_e2e.policy import Policy
>>> policy = Policy.from_dict({"type": "SignaturePolicy", "id": "demo", "version": 1,
...     "mode": "audit", "rules": []})
>>> guard = Guard(policy, policy.verifier(), clock=lambda: datetime(2026, 11, 22, 10, tzinfo=UTC))
>>> conn = guard.connection("CS-1", ocpp="2.0.1", side=CSMS)
>>> import asyncio
>>> action = asyncio.run(conn.receive('[2, "1", "Heartbeat", {}]'))
>>> type(action).__name__, action.event.decision.would_deny
('Deliver', True)
"""

from .clock import ClockUpdate, TrustedClock
from .core import (
    CSMS,
    STATION,
    Action,
    Answer,
    DecisionEvent,
    DecisionHook,
    Deliver,
    Drop,
    Guard,
    GuardConnection,
    GuardSettings,
    RefuseResponse,
    ResponseFailed,
    ResponseRefused,
    ResponseUnreadable,
)
from .esp import EncryptRule, EspConnection, EspSettings
from .signing import Signing, SignRule

__all__ = [
    "CSMS",
    "STATION",
    "Action",
    "Answer",
    "ClockUpdate",
    "DecisionEvent",
    "DecisionHook",
    "Deliver",
    "Drop",
    "EncryptRule",
    "EspConnection",
    "EspSettings",
    "Guard",
    "GuardConnection",
    "GuardSettings",
    "RefuseResponse",
    "ResponseFailed",
    "ResponseRefused",
    "ResponseUnreadable",
    "SignRule",
    "Signing",
    "TrustedClock",
]
