"""Shared set-up of the WebSocket demo: demo keys from keys-example/, policies, guards.

The keys in keys-example/ are published demo keys: never deploy them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ocpp_e2e.integrations import system_clock
from ocpp_e2e.integrations.ocpp import DecisionEvent, Guard, TrustedClock
from ocpp_e2e.keys import KeySigner, load_private_key
from ocpp_e2e.pki.validate import pem_chain_der
from ocpp_e2e.policy import load_policy
from ocpp_e2e.replay import SQLiteReplayCache

HERE = Path(__file__).resolve().parent
KEYS = HERE.parent.parent / "keys-example"
PREFIX = "/ocpp"
STATION_ID = "CS-0001"
LOG = logging.getLogger("demo")


def signer(name: str) -> KeySigner:
    """A demo signer (``csms-operator``, ``grid-operator``, ...) with its certificate chain."""
    chain = pem_chain_der((KEYS / f"{name}.chain.pem").read_bytes())
    return KeySigner(load_private_key(KEYS / f"{name}.key.pem"), certificates=chain)


def log_decision(event: DecisionEvent) -> None:
    """The decision hook of the demo: one line per incoming frame."""
    LOG.info(
        "%s %s %s: %s",
        event.direction.value,
        event.action,
        event.kind.value,
        event.decision.summary(),
    )


def guard(side: str, state: Path, *, clock: TrustedClock | None = None) -> Guard:
    """The guard of ``side`` (``csms`` or ``station``) with its replay cache in ``state``."""
    policy = load_policy(HERE / "policies" / f"{side}-policy.yaml")
    state.mkdir(parents=True, exist_ok=True)
    cache = SQLiteReplayCache(state / f"{side}-replay.sqlite")
    return Guard(
        policy,
        policy.verifier(replay_cache=cache),
        hooks=[log_decision],
        clock=clock if clock is not None else system_clock,  # a program: it reads the clock
    )
