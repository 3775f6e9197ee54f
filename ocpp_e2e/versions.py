"""OCPP versions as one table: what each version fixes that this library needs to know.

A new OCPP version is one :class:`OcppVersion` row here (plus its tests): the frame reader, the
signer's carrier, the WebSocket subprotocol, the CALLERROR codes and the meter-value carriers all
read it from this table.

>>> VERSIONS["1.6"].carrier, VERSIONS["2.1"].subprotocol
('top', 'ocpp2.1')
>>> sorted(t.name for t in VERSIONS["2.0.1"].message_types)
['CALL', 'CALLERROR', 'CALLRESULT']
>>> profile("3.0")
Traceback (most recent call last):
...
ocpp_e2e.errors.InputError: unknown OCPP version '3.0'; expected one of 1.6, 2.0.1, 2.1
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .errors import InputError

__all__ = ["OCPP_VERSIONS", "VERSIONS", "Carrier", "MessageType", "OcppVersion", "profile"]

#: Where a signed object carries its signatures (SPEC §1).
Carrier = Literal["top", "customData"]


class MessageType(enum.IntEnum):
    """OCPP-J message type ids (5 and 6 exist from OCPP 2.1 on)."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5
    SEND = 6


@dataclass(frozen=True)
class OcppVersion:
    """What one OCPP version fixes for signing, verifying and auditing its frames."""

    #: The version as SPEC §3 CONTEXT names it (``"2.0.1"``).
    version: str
    #: The WebSocket subprotocol that negotiates it (OCPP-J 1.6 §3.1.2; 2.x part 4).
    subprotocol: str
    #: Where the payloads of its frames carry signatures (SPEC §1).
    carrier: Carrier
    #: The OCPP-J message types it has.
    message_types: frozenset[MessageType]
    #: The RPC framework error codes of its CALLERROR frames.
    error_codes: frozenset[str]
    #: Action -> the payload member holding its MeterValue list, for actions that carry meter values.
    meter_carriers: Mapping[str, str]
    #: The JSON text every signed meter value of this version contains (a fast pre-check).
    meter_marker: str
    #: The `ocpp` package's subpackage of this version, whose ``schemas`` folder holds the
    #: official JSON schemas (policy lint, audit inference).
    schema_package: str
    #: How those schema files name a request: ``<Action><suffix>.json`` (1.6 has no suffix).
    request_suffix: str = "Request"

    def request_schema_name(self, action: str) -> str:
        """The file name of the official JSON schema of ``action``'s request."""
        return f"{action}{self.request_suffix}.json"


_CALLS = frozenset({MessageType.CALL, MessageType.CALLRESULT, MessageType.CALLERROR})
# OCPP-J 1.6 §4.2.3 and OCPP 2.0.1 Part 4 §4.3. 1.6 spells "OccurenceConstraintViolation" and
# "FormationViolation"; 2.x fixed the spelling and renamed the latter "FormatViolation".
_ERRORS_16 = frozenset(
    {
        "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
        "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
        "TypeConstraintViolation", "GenericError",
    }
)  # fmt: skip
_ERRORS_2X = frozenset(
    {
        "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported",
        "NotImplemented", "NotSupported", "OccurrenceConstraintViolation",
        "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
        "TypeConstraintViolation",
    }
)  # fmt: skip
_METER_2X = {"MeterValues": "meterValue", "TransactionEvent": "meterValue"}

#: Every supported OCPP version by its SPEC name, oldest first.
VERSIONS: Mapping[str, OcppVersion] = {
    v.version: v
    for v in (
        OcppVersion(
            "1.6",
            "ocpp1.6",
            "top",
            _CALLS,
            _ERRORS_16,
            {"MeterValues": "meterValue", "StopTransaction": "transactionData"},
            '"SignedData"',
            "ocpp.v16",
            request_suffix="",
        ),
        OcppVersion(
            "2.0.1",
            "ocpp2.0.1",
            "customData",
            _CALLS,
            _ERRORS_2X,
            _METER_2X,
            '"signedMeterValue"',
            "ocpp.v201",
        ),
        # OCPP 2.1 adds SEND and CALLRESULTERROR and keeps the 2.0.1 error codes.
        OcppVersion(
            "2.1",
            "ocpp2.1",
            "customData",
            frozenset(MessageType),
            _ERRORS_2X,
            _METER_2X,
            '"signedMeterValue"',
            "ocpp.v21",
        ),
    )
}
#: The SPEC names of the supported versions, oldest first.
OCPP_VERSIONS: tuple[str, ...] = tuple(VERSIONS)


def profile(version: str, *, error: type[Exception] = InputError) -> OcppVersion:
    """The row of ``version``; otherwise ``error`` (an :class:`InputError` unless the caller has
    its own type) naming the supported ones."""
    row = VERSIONS.get(version)
    if row is None:
        raise error(f"unknown OCPP version {version!r}; expected one of {', '.join(OCPP_VERSIONS)}")
    return row
