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
        AUTHORIZATION_KEY_BYTES,
        SUBPROTOCOLS,
        Admission,
        AuthorizationKeyStore,
        BasicCredentials,
        ScryptParameters,
        StoredKey,
        admit,
        authorization_key_hex,
        basic_auth_header,
        choose_subprotocol,
        client_subprotocols,
        connection_url,
        generate_authorization_key,
        identity_from_path,
        negotiated_ocpp,
        ocpp_version,
        parse_authorization_key,
        parse_basic_auth,
        request_guard,
        subprotocol_for,
        subprotocol_selector,
    )
    from .ocpp import ChargePoint16, ChargePoint21, ChargePoint201

_WHERE = {
    "ChargePoint16": "ocpp", "ChargePoint201": "ocpp", "ChargePoint21": "ocpp",
    "SUBPROTOCOLS": "connection", "Admission": "connection",
    "AuthorizationKeyStore": "connection", "admit": "connection",
    "choose_subprotocol": "connection", "connection_url": "connection",
    "ocpp_version": "connection", "subprotocol_for": "connection",
    "system_clock": "clock",
    "AUTHORIZATION_KEY_BYTES": "connection",
    "BasicCredentials": "connection",
    "ScryptParameters": "connection",
    "StoredKey": "connection",
    "authorization_key_hex": "connection",
    "basic_auth_header": "connection",
    "client_subprotocols": "connection",
    "generate_authorization_key": "connection",
    "identity_from_path": "connection",
    "negotiated_ocpp": "connection",
    "parse_authorization_key": "connection",
    "parse_basic_auth": "connection",
    "request_guard": "connection",
    "subprotocol_selector": "connection",
}  # fmt: skip

__all__ = [
    "AUTHORIZATION_KEY_BYTES",
    "SUBPROTOCOLS",
    "Admission",
    "AuthorizationKeyStore",
    "BasicCredentials",
    "ChargePoint16",
    "ChargePoint21",
    "ChargePoint201",
    "ScryptParameters",
    "StoredKey",
    "admit",
    "authorization_key_hex",
    "basic_auth_header",
    "choose_subprotocol",
    "client_subprotocols",
    "connection_url",
    "generate_authorization_key",
    "identity_from_path",
    "negotiated_ocpp",
    "ocpp_version",
    "parse_authorization_key",
    "parse_basic_auth",
    "request_guard",
    "subprotocol_for",
    "subprotocol_selector",
    "system_clock",
]


__getattr__ = lazy_getattr(__name__, _WHERE)
