"""Finding signed meter records inside OCPP payloads.

Where they travel:

- OCPP 2.0.1 and 2.1: ``SampledValueType.signedMeterValue`` (``signedMeterData`` is the base64 of
  the signed data, ``encodingMethod`` e.g. ``OCMF``, ``signingMethod``, ``publicKey`` base64) in
  ``MeterValues`` (``meterValue[]``) and ``TransactionEvent`` (``meterValue[]``) requests
  (OCPP 2.0.1 / 2.1 JSON schemas, ``SignedMeterValueType``).
- OCPP 1.6: a ``sampledValue`` with ``format: "SignedData"`` in ``MeterValues`` (``meterValue[]``)
  and ``StopTransaction`` (``transactionData[]``). OCPP 1.6 leaves the content open; in practice
  ``value`` is the OCMF text itself, its hex (OCMF "Embedding in OCPP": SignedData "encoded as hex
  data"), its base64, or a JSON object text with the 2.0.1 members (the OCA application note
  "Signed Meter Values in OCPP" and e.g. has.to.be use ``signedMeterValue`` as the data member).
  Each of those four forms is accepted; anything else is reported, never guessed at.

>>> found = extract_records("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "x",
...     "sampledValue": [{"value": "OCMF|{}|{}", "format": "SignedData"}]}]}, "1.6")
>>> found[0].path, found[0].form
('$.meterValue[0].sampledValue[0].value', 'plain')
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .._b64 import Base64Error, b64_decode
from ..errors import InputError
from ..versions import VERSIONS

__all__ = [
    "FoundRecord",
    "extract_records",
]

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_HEADER = "OCMF|"


@dataclass(frozen=True)
class FoundRecord:
    """A signed meter value found in an OCPP payload.

    ``path`` is the JSON path of the carrying member; ``text`` the OCMF record text (None when it
    cannot be decoded, then ``problem`` says why); ``form`` how the record was wrapped (``plain``,
    ``hex``, ``base64``, ``json`` for a 1.6 JSON object text, ``signedMeterValue`` for 2.x).
    ``unsupported`` marks signed data in another format than OCMF (e.g. EDL).
    """

    path: str
    text: str | None
    form: str
    public_key: str | None = None
    signing_method: str | None = None
    encoding_method: str | None = None
    problem: str | None = None
    unsupported: bool = False


def extract_records(action: str, payload: Any, ocpp_version: str) -> list[FoundRecord]:
    """Every signed meter value in an OCPP request payload, in document order.

    ``ocpp_version`` is ``1.6``, ``2.0.1`` or ``2.1``. Payloads of other actions give an empty
    list; a carrier member of the wrong JSON type is skipped (schema validation is the core's job).
    """
    version = VERSIONS.get(ocpp_version)
    if version is None:
        raise InputError(
            f"unknown OCPP version {ocpp_version!r} (use {', '.join(VERSIONS)})", "ocpp_version"
        )
    if not isinstance(payload, dict):
        return []
    member = version.meter_carriers.get(action)
    if member is None:
        return []
    if version.carrier == "top":  # 1.6: OCMF text in sampled values of format SignedData
        return [
            _found_16(path, sv)
            for path, sv in _sampled_values(payload, member)
            if sv.get("format") == "SignedData"
        ]
    return [
        _found_2x(f"{path}.signedMeterValue", sv["signedMeterValue"])
        for path, sv in _sampled_values(payload, member)
        if "signedMeterValue" in sv
    ]


def _sampled_values(payload: dict[str, Any], member: str) -> Iterator[tuple[str, dict[str, Any]]]:
    values = payload.get(member)
    if not isinstance(values, list):
        return
    for i, mv in enumerate(values):
        if not isinstance(mv, dict) or not isinstance(mv.get("sampledValue"), list):
            continue
        for j, sv in enumerate(mv["sampledValue"]):
            if isinstance(sv, dict):
                yield f"$.{member}[{i}].sampledValue[{j}]", sv


def _found_2x(path: str, smv: Any) -> FoundRecord:
    if not isinstance(smv, dict):
        return FoundRecord(
            path, None, "signedMeterValue", problem="signedMeterValue is not an object"
        )
    return _from_object(path, smv, "signedMeterData", "signedMeterValue")


def _from_object(path: str, obj: dict[str, Any], data_member: str, form: str) -> FoundRecord:
    strings = {k: obj.get(k) for k in (data_member, "encodingMethod", "signingMethod", "publicKey")}
    for name, value in strings.items():
        if value is not None and not isinstance(value, str):
            return FoundRecord(path, None, form, problem=f"{name} is not a string")
    public_key = strings["publicKey"] or None  # an empty publicKey means "not sent"
    method = strings["encodingMethod"]
    signing = strings["signingMethod"] or None
    if method is not None and method.upper() != "OCMF":
        return FoundRecord(
            path,
            None,
            form,
            public_key,
            signing,
            method,
            problem=f"encodingMethod {method!r} is not OCMF",
            unsupported=True,
        )
    data = strings[data_member]
    if data is None:
        return FoundRecord(
            path, None, form, public_key, signing, method, problem=f"{data_member} is missing"
        )
    try:
        raw = b64_decode(data)
    except Base64Error as exc:
        return FoundRecord(
            path, None, form, public_key, signing, method, problem=f"{data_member}: {exc}"
        )
    text, problem = _ocmf_text(raw, f"{data_member} (base64)")
    return FoundRecord(path, text, form, public_key, signing, method, problem)


def _found_16(path: str, sv: dict[str, Any]) -> FoundRecord:
    vpath = f"{path}.value"
    value = sv.get("value")
    if not isinstance(value, str):
        return FoundRecord(vpath, None, "plain", problem="value is not a string")
    if value.startswith(_HEADER):
        return FoundRecord(vpath, value, "plain")
    if value.lstrip().startswith("{"):
        try:
            obj = json.loads(value)
        except ValueError as exc:
            return FoundRecord(vpath, None, "json", problem=f"value is not JSON: {exc}")
        except RecursionError:  # a string in a payload can nest far deeper than the payload
            return FoundRecord(vpath, None, "json", problem="value is not JSON: nested too deep")
        if not isinstance(obj, dict):
            return FoundRecord(vpath, None, "json", problem="value is not a JSON object")
        if "signedMeterValue" in obj and "signedMeterData" in obj:
            return FoundRecord(
                vpath, None, "json", problem="value has both signedMeterValue and signedMeterData"
            )
        member = "signedMeterValue" if "signedMeterValue" in obj else "signedMeterData"
        return _from_object(vpath, obj, member, "json")
    if _HEX.fullmatch(value):
        text, problem = _ocmf_text(bytes.fromhex(value), "value (hex)")
        return FoundRecord(vpath, text, "hex", problem=problem)
    try:
        raw = b64_decode(value)
    except Base64Error:
        return FoundRecord(
            vpath,
            None,
            "plain",
            problem="value is neither OCMF text nor its hex or base64 nor a JSON object",
        )
    text, problem = _ocmf_text(raw, "value (base64)")
    return FoundRecord(vpath, text, "base64", problem=problem)


def _ocmf_text(raw: bytes, what: str) -> tuple[str | None, str | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, f"{what} does not decode to UTF-8 text"
    if not text.startswith(_HEADER):
        return None, f'{what} does not decode to an OCMF record ("OCMF|...")'
    return text, None
