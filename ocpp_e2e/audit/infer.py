"""What a log does not say but its frames do: the OCPP version, and which side wrote the log.

The version comes from the CALLs: an action that exists in only some versions, or a payload that
is valid only under some versions' schemas (the official JSON schemas shipped with the ``ocpp``
package), narrows the candidates. The side comes from who sends the actions only one side
initiates (a station sends BootNotification, a CSMS sends Reset).

>>> votes = VersionVotes()
>>> votes.observe('[2,"1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]')
>>> votes.decided()
'1.6'
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import orjson

from ..versions import OCPP_VERSIONS, profile

__all__ = [
    "CSMS_ACTIONS",
    "STATION_ACTIONS",
    "VERSIONS",
    "VersionVotes",
    "call_of",
    "versions_of_call",
    "writer_side",
]

#: The versions a log can be in, oldest first (the first remaining candidate is chosen).
VERSIONS = OCPP_VERSIONS

#: CALLs only a charging station initiates (OCPP 1.6, 2.0.1, 2.1). DataTransfer goes both ways.
STATION_ACTIONS = frozenset(
    {
        "Authorize", "BatterySwap", "BootNotification", "ClearedChargingLimit",
        "DiagnosticsStatusNotification", "FirmwareStatusNotification", "Get15118EVCertificate",
        "GetCertificateStatus", "GetCertificateChainStatus", "Heartbeat", "LogStatusNotification",
        "MeterValues", "NotifyAllowedEnergyTransfer", "NotifyChargingLimit",
        "NotifyCustomerInformation", "NotifyDERAlarm", "NotifyDERStartStop",
        "NotifyDisplayMessages", "NotifyEVChargingNeeds", "NotifyEVChargingSchedule",
        "NotifyEvent", "NotifyMonitoringReport", "NotifyPriorityCharging", "NotifyReport",
        "NotifySettlement", "NotifyWebPaymentStarted", "OpenPeriodicEventStream",
        "PublishFirmwareStatusNotification", "PullDynamicScheduleUpdate",
        "ReportChargingProfiles", "ReportDERControl", "ReservationStatusUpdate",
        "SecurityEventNotification", "SignCertificate", "StartTransaction", "StatusNotification",
        "StopTransaction", "TransactionEvent", "VatNumberValidation",
    }
)  # fmt: skip
#: CALLs only a CSMS (central system) initiates.
CSMS_ACTIONS = frozenset(
    {
        "CancelReservation", "CertificateSigned", "ChangeAvailability", "ChangeConfiguration",
        "ClearCache", "ClearChargingProfile", "ClearDisplayMessage", "ClearVariableMonitoring",
        "CostUpdated", "CustomerInformation", "DeleteCertificate", "ExtendedTriggerMessage",
        "GetBaseReport", "GetChargingProfiles", "GetCompositeSchedule", "GetConfiguration",
        "GetDiagnostics", "GetDisplayMessages", "GetInstalledCertificateIds",
        "GetLocalListVersion", "GetLog", "GetMonitoringReport", "GetReport",
        "GetTransactionStatus", "GetVariables", "InstallCertificate", "PublishFirmware",
        "RemoteStartTransaction", "RemoteStopTransaction", "RequestStartTransaction",
        "RequestStopTransaction", "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile",
        "SetDisplayMessage", "SetMonitoringBase", "SetMonitoringLevel", "SetNetworkProfile",
        "SetVariableMonitoring", "SetVariables", "SignedUpdateFirmware", "TriggerMessage",
        "UnlockConnector", "UnpublishFirmware", "UpdateFirmware",
    }
)  # fmt: skip


@functools.cache
def _actions(version: str) -> frozenset[str]:
    folder = resources.files(profile(version).schema_package).joinpath("schemas")
    names = set()
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".json") or name.endswith("Response.json"):
            continue
        names.add(name[: -len(".json")].removesuffix("Request"))
    return frozenset(names)


@functools.cache
def _validator(version: str, action: str) -> Any:
    import jsonschema  # only when a payload has to be judged

    row = profile(version)
    folder = resources.files(row.schema_package).joinpath("schemas")
    schema = orjson.loads(folder.joinpath(row.request_schema_name(action)).read_bytes())
    schema.pop("$schema", None)  # draft-04 and draft-06 ids; the checks used are the same
    schema.pop("$id", None)
    schema.pop("id", None)
    return jsonschema.Draft7Validator(schema)


def versions_of_call(action: str, payload: Any) -> frozenset[str]:
    """The versions in which ``action`` exists and ``payload`` is a valid request of it."""
    out = set()
    for version in VERSIONS:
        if action not in _actions(version):
            continue
        try:
            valid = _validator(version, action).is_valid(payload)
        except Exception:  # a schema the validator cannot use tells nothing
            valid = True
        if valid:
            out.add(version)
    return frozenset(out)


def call_of(frame_text: str) -> tuple[str, Any] | None:
    """(action, payload) of a CALL frame's text; None for anything else or unreadable text."""
    try:
        value = orjson.loads(frame_text)
    except orjson.JSONDecodeError:
        return None
    if (
        type(value) is list
        and len(value) == 4
        and value[0] == 2
        and type(value[2]) is str
        and type(value[3]) is dict
    ):
        return value[2], value[3]
    return None


class VersionVotes:
    """Narrows the OCPP version of a log frame by frame."""

    def __init__(self) -> None:
        self.candidates = frozenset(VERSIONS)
        self.evidence = ""

    def observe(self, frame_text: str, where: str = "") -> None:
        """Take one frame into account (only CALLs tell anything)."""
        if len(self.candidates) == 1:
            return
        call = call_of(frame_text)
        if call is None:
            return
        fits = versions_of_call(*call)
        narrowed = self.candidates & fits
        if narrowed and narrowed != self.candidates:
            self.candidates = narrowed
            only = " or ".join(sorted(narrowed))
            self.evidence = f"{call[0]}{' ' + where if where else ''} fits only OCPP {only}"

    def decided(self) -> str | None:
        """The version when only one remains, else None."""
        return next(iter(self.candidates)) if len(self.candidates) == 1 else None

    def best(self) -> str | None:
        """The oldest remaining version once 1.6 is excluded (2.0.1 and 2.1 share most of their
        messages); None when nothing was learned."""
        if len(self.candidates) == len(VERSIONS):
            return None
        return next(v for v in VERSIONS if v in self.candidates)


def writer_side(action: str, sent: bool) -> str | None:
    """Which side wrote a log in which a CALL of ``action`` was sent (``sent``) or received."""
    if action in STATION_ACTIONS:
        return "station" if sent else "csms"
    if action in CSMS_ACTIONS:
        return "csms" if sent else "station"
    return None
