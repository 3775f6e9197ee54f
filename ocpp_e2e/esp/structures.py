"""ESP for standalone structures (docs/esp.md §9.9): a SPEC §6 structure encrypted to a station.

The envelope is a JSON object of its own, ``{"type": "Encrypted<Type>", "suite", "recipient",
"timestamp", "ct"}``; the HPKE ``info`` binds the structure type and the station.

>>> from datetime import UTC, datetime
>>> from ocpp_e2e.esp.keys import generate_esp_key
>>> station = generate_esp_key()
>>> now = datetime(2026, 12, 7, 22, 40, tzinfo=UTC)
>>> env = seal_structure(b'{"type":"TicketPresentation"}', type_="TicketPresentation",
...                      station="CS-1", recipient=station.public, now=now)
>>> env["type"]
'EncryptedTicketPresentation'
>>> open_structure(env, EspReceiver([station]), type_="TicketPresentation", station="cs-1",
...                now=now).outcome.value
'decrypted'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from .._b64 import b64url_encode
from .._time import format_timestamp
from ..canonical import _dumps_parsed
from ..context import STRUCTURE_TYPES, normalize_station
from .frames import EspReceiver, _Refused, _sealed_ct, _unseal
from .keys import EspPublicKey
from .model import ESP_INFO_LABEL, EncryptionError, EspOutcome
from .suites import SUITES, default_suite

__all__ = [
    "OpenedStructure",
    "open_structure",
    "seal_structure",
]

_MEMBERS = frozenset({"type", "suite", "recipient", "timestamp", "ct"})


class OpenedStructure(NamedTuple):
    """One envelope's outcome (docs/esp.md §9.6) and, when ``decrypted``, the plaintext bytes."""

    outcome: EspOutcome
    reason: str
    plaintext: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is EspOutcome.DECRYPTED


def _structure_info(
    *, type_: str, station: str, suite: str, recipient: str, timestamp: str
) -> bytes:
    """The HPKE ``info`` of an encrypted structure (§9.9)."""
    return _dumps_parsed(
        {
            "esp": ESP_INFO_LABEL,
            "type": type_,
            "station": normalize_station(station),
            "suite": suite,
            "recipient": recipient,
            "timestamp": timestamp,
        },
        True,
    )


def _check_type(type_: str) -> None:
    if type_ not in STRUCTURE_TYPES:
        raise EncryptionError(
            f"unknown structure type {type_!r}; one of {', '.join(STRUCTURE_TYPES)}"
        )


def seal_structure(
    plaintext: bytes,
    *,
    type_: str,
    station: str,
    recipient: EspPublicKey,
    suite: str | None = None,
    now: datetime,
) -> dict[str, Any]:
    """Encrypt a structure's JSON text to ``station``'s recipient key; returns the envelope."""
    _check_type(type_)
    chosen = default_suite(recipient.type) if suite is None else SUITES.get(suite)
    if chosen is None:
        raise EncryptionError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
    if chosen.key_type is not recipient.type:
        raise EncryptionError(
            f"suite {chosen.name} needs a {chosen.key_type.value} key; the recipient key is "
            f"{recipient.type.value}"
        )
    when = format_timestamp(now)
    info = _structure_info(
        type_=type_, station=station, suite=chosen.name, recipient=recipient.key_id, timestamp=when
    )
    ct = chosen.hpke().encrypt(plaintext, recipient.hpke_key, info=info)
    return {
        "type": f"Encrypted{type_}",
        "suite": chosen.name,
        "recipient": recipient.key_id,
        "timestamp": when,
        "ct": b64url_encode(ct),
    }


def open_structure(
    envelope: Mapping[str, Any],
    receiver: EspReceiver,
    *,
    type_: str,
    station: str,
    now: datetime,
) -> OpenedStructure:
    """Checks 1–8 of docs/esp.md §9.6 on an encrypted structure; never raises for bad input."""
    _check_type(type_)
    try:
        if not isinstance(envelope, Mapping):
            raise _Refused(EspOutcome.MALFORMED, "the envelope is a JSON object")
        unknown = set(envelope) - _MEMBERS
        missing = _MEMBERS - set(envelope)
        if unknown or missing:
            what = [f"unknown member(s) {', '.join(sorted(unknown))}"] if unknown else []
            what += [f"missing {', '.join(sorted(missing))}"] if missing else []
            raise _Refused(EspOutcome.MALFORMED, f"the envelope: {'; '.join(what)}")
        if envelope["type"] != f"Encrypted{type_}":
            raise _Refused(
                EspOutcome.MALFORMED,
                f"type {envelope['type']!r} is not {'Encrypted' + type_!r}",
            )
        for member in ("suite", "recipient", "timestamp", "ct"):
            if not isinstance(envelope[member], str):
                raise _Refused(EspOutcome.MALFORMED, f"the envelope's {member} must be a string")
        ct = _sealed_ct(envelope, receiver.max_plaintext)
        info = _structure_info(
            type_=type_,
            station=station,
            suite=envelope["suite"],
            recipient=envelope["recipient"],
            timestamp=envelope["timestamp"],
        )
        cache = receiver.replay_cache
        plaintext = _unseal(
            receiver,
            envelope,
            ct,
            info,
            now=now,
            replay=cache.check_and_add if cache is not None else None,
            context=f"for {type_} at station {normalize_station(station)}",
        )
    except _Refused as refused:
        return OpenedStructure(refused.outcome, refused.reason)
    recipient = envelope["recipient"]
    return OpenedStructure(EspOutcome.DECRYPTED, f"decrypted with key {recipient}", plaintext)
