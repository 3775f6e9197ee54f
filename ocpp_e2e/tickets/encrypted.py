"""Ticket presentations encrypted to the station's key (docs/esp.md §9.9).

The holder signs a ``TicketPresentation`` as usual (:func:`~ocpp_e2e.tickets.present_ticket`),
then encrypts it to the station's ESP recipient key, so that nothing between the holder's device
and the station reads the ticket (issuer, limits, tariffs, holder key). The station decrypts and
then verifies the presentation exactly as a plaintext one.

>>> from datetime import UTC, datetime
>>> from ocpp_e2e.esp import EspReceiver, generate_esp_key
>>> station_key = generate_esp_key()
>>> now = datetime(2026, 12, 7, 22, 40, tzinfo=UTC)
>>> sealed = encrypt_presentation({"type": "TicketPresentation"}, station_key.public,
...                               station_id="CS-1", now=now)
>>> sorted(sealed)
['ct', 'recipient', 'suite', 'timestamp', 'type']
>>> opened = decrypt_presentation(sealed, EspReceiver([station_key]), station_id="CS-1", now=now)
>>> opened.outcome.value  # decrypted, but not a presentation a station could read
'invalid-inner-frame'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from ..canonical import dumps, loads
from ..errors import InputError
from ..esp import EncryptionError, EspOutcome, EspPublicKey, EspReceiver
from ..esp.structures import open_structure, seal_structure
from .model import PRESENTATION_TYPE, TicketPresentation

__all__ = [
    "ENCRYPTED_PRESENTATION_TYPE",
    "OpenedPresentation",
    "decrypt_presentation",
    "encrypt_presentation",
]

#: The ``type`` of an encrypted presentation.
ENCRYPTED_PRESENTATION_TYPE = f"Encrypted{PRESENTATION_TYPE}"


class OpenedPresentation(NamedTuple):
    """The outcome of one encrypted presentation; when ``decrypted``, the presentation (as the
    holder signed it) ready for :class:`~ocpp_e2e.tickets.TicketVerifier`."""

    outcome: EspOutcome
    reason: str
    presentation: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is EspOutcome.DECRYPTED


def encrypt_presentation(
    presentation: Mapping[str, Any],
    station_key: EspPublicKey,
    *,
    station_id: str,
    suite: str | None = None,
    now: datetime,
) -> dict[str, Any]:
    """Encrypt a signed presentation to the station's recipient key (its ``stationId``)."""
    if presentation.get("stationId", station_id) != station_id:
        raise EncryptionError(
            f"the presentation is for station {presentation.get('stationId')!r}, not {station_id!r}"
        )
    try:
        plaintext = dumps(dict(presentation))
    except (TypeError, ValueError) as exc:
        raise EncryptionError(f"the presentation is not JSON ({exc})") from exc
    return seal_structure(
        plaintext,
        type_=PRESENTATION_TYPE,
        station=station_id,
        recipient=station_key,
        suite=suite,
        now=now,
    )


def decrypt_presentation(
    envelope: Mapping[str, Any] | bytes | str,
    receiver: EspReceiver,
    *,
    station_id: str,
    now: datetime,
) -> OpenedPresentation:
    """Decrypt an encrypted presentation at station ``station_id``; never raises for bad input.

    Outcomes as docs/esp.md §9.6; ``invalid-inner-frame`` when the plaintext is not a readable
    ``TicketPresentation``. Verify the returned presentation with ``TicketVerifier`` next.
    """
    if isinstance(envelope, bytes | str):
        try:
            envelope = loads(envelope)
        except InputError as exc:
            return OpenedPresentation(EspOutcome.MALFORMED, f"not I-JSON: {exc}")
    opened = open_structure(
        envelope,  # type: ignore[arg-type]
        receiver,
        type_=PRESENTATION_TYPE,
        station=station_id,
        now=now,
    )
    if not opened.ok or opened.plaintext is None:
        return OpenedPresentation(opened.outcome, opened.reason)
    try:
        value = loads(opened.plaintext)
        TicketPresentation.from_dict(value)
    except InputError as exc:
        return OpenedPresentation(EspOutcome.INVALID_INNER_FRAME, str(exc))
    return OpenedPresentation(EspOutcome.DECRYPTED, opened.reason, value)
