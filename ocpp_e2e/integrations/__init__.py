"""Integrations (docs/integration.md): the ``ocpp`` package's charge points that sign and
enforce, and the OCPP-J 1.6 connection-security rules (subprotocols, Basic auth keys).

The names below load on first use (the ``ocpp`` package is imported only when needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr

if TYPE_CHECKING:
    from .clock import system_clock
    from .connection import (
        SUBPROTOCOLS,
        Admission,
        AuthorizationKeyStore,
        admit,
        choose_subprotocol,
        connection_url,
        ocpp_version,
        subprotocol_for,
    )
    from .ocpp import ChargePoint16, ChargePoint21, ChargePoint201

_WHERE = {
    "ChargePoint16": "ocpp", "ChargePoint201": "ocpp", "ChargePoint21": "ocpp",
    "SUBPROTOCOLS": "connection", "Admission": "connection",
    "AuthorizationKeyStore": "connection", "admit": "connection",
    "choose_subprotocol": "connection", "connection_url": "connection",
    "ocpp_version": "connection", "subprotocol_for": "connection",
    "system_clock": "clock",
}  # fmt: skip

__all__ = [
    "SUBPROTOCOLS",
    "Admission",
    "AuthorizationKeyStore",
    "ChargePoint16",
    "ChargePoint21",
    "ChargePoint201",
    "admit",
    "choose_subprotocol",
    "connection_url",
    "ocpp_version",
    "subprotocol_for",
    "system_clock",
]


__getattr__ = lazy_getattr(__name__, _WHERE)
