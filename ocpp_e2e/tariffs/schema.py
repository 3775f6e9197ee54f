"""Validation against the official OCPP 2.1 JSON schemas (SPEC §6: a Tariff *is* a TariffType).

The schemas are read at run time from the ``ocpp`` package on PyPI, which ships the schemas the
Open Charge Alliance publishes with OCPP 2.1 Edition 1 (``ocpp/v21/schemas``,
``$id urn:OCPP:Cp:2:2025:1:SetDefaultTariffRequest``). The ``TariffType`` definition is taken out
of ``SetDefaultTariffRequest.json`` unchanged, so a tariff that passes here passes wherever the
official schema is used. We do not ship a copy: the files are licensed CC BY-ND, and one source of
truth is better than two.

>>> validate_tariff({"tariffId": "t1", "currency": "EUR"})
>>> validate_tariff({"tariffId": "t1"})
Traceback (most recent call last):
...
ocpp_e2e.errors.TariffError: tariff: $: 'currency' is a required property
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Mapping
from typing import Any

import jsonschema

from ..errors import TariffError

__all__ = [
    "SCHEMA_DIR",
    "SCHEMA_PACKAGE",
    "set_default_tariff_request",
    "validate_set_default_tariff",
    "validate_tariff",
]

#: Where the official schemas live inside the ``ocpp`` package.
SCHEMA_PACKAGE = "ocpp"
SCHEMA_DIR = ("v21", "schemas")


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@functools.cache
def _official(name: str) -> Mapping[str, Any]:
    try:
        root = importlib.resources.files(SCHEMA_PACKAGE)
    except ModuleNotFoundError as exc:
        raise TariffError(
            "the OCPP 2.1 schemas come from the 'ocpp' package, which is not installed "
            "(pip install 'ocpp-e2e[ocpp]')"
        ) from exc
    node = root
    for part in (*SCHEMA_DIR, name):
        node = node / part
    try:
        doc: Mapping[str, Any] = json.loads(node.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TariffError(
            f"cannot read the official schema {'/'.join(SCHEMA_DIR)}/{name}: {exc}"
        ) from exc
    return doc


@functools.cache
def _validator(definition: str | None) -> jsonschema.Draft6Validator:
    doc = _official("SetDefaultTariffRequest.json")
    if definition is None:
        schema: Mapping[str, Any] = doc
    else:
        # The definition keeps its siblings so that its "#/definitions/..." references resolve.
        schema = {
            "$schema": doc["$schema"],
            "definitions": doc["definitions"],
            "$ref": f"#/definitions/{definition}",
        }
    return jsonschema.Draft6Validator(schema)


def _check(validator: jsonschema.Draft6Validator, obj: Any, source: str) -> None:
    errors = sorted(
        validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message)
    )
    if errors:
        problems = [f"{_path(e.absolute_path)}: {e.message}" for e in errors]
        raise TariffError("; ".join(problems), None, source=source)


def validate_tariff(tariff: Any, *, source: str = "tariff") -> None:
    """Raise :class:`TariffError` listing every way ``tariff`` is not an OCPP 2.1 ``TariffType``.

    Signed or not: the ``customData`` carrier keeps signed tariffs valid.
    """
    _check(_validator("TariffType"), tariff, source)


def validate_set_default_tariff(request: Any, *, source: str = "SetDefaultTariffRequest") -> None:
    """Raise :class:`TariffError` unless ``request`` is a valid OCPP 2.1 SetDefaultTariffRequest."""
    _check(_validator(None), request, source)


def set_default_tariff_request(tariff: Mapping[str, Any], evse_id: int = 0) -> dict[str, Any]:
    """Wrap a (signed) tariff, unchanged, in a validated ``SetDefaultTariffRequest`` payload.

    ``evse_id`` 0 means every EVSE of the station (OCPP 2.1).

    >>> set_default_tariff_request({"tariffId": "t1", "currency": "EUR"})["evseId"]
    0
    """
    request = {"evseId": evse_id, "tariff": dict(tariff)}
    validate_set_default_tariff(request)
    return request
