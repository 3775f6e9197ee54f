"""End-to-end signatures inside the ``ocpp`` package (PyPI ``ocpp``, by The Mobility House).

Subclass :class:`ChargePoint16`, :class:`ChargePoint201` or :class:`ChargePoint21` instead of the
package's ``ChargePoint`` and give them a :class:`Signing` (who signs which outgoing frame) and a
:class:`Guard` (how incoming frames are verified and decided). Handlers stay as they are::

    class StationAtCsms(ChargePoint201):
        @on(Action.boot_notification)
        def on_boot(self, charging_station, reason, **kwargs):
            return call_result.BootNotification(current_time=..., interval=300, status="Accepted")

    cp = StationAtCsms("CS-0001", websocket, side=CSMS,
                       signing=Signing([SignRule([ops_signer])]), guard=Guard(policy, verifier))

Give ``esp=EspSettings(...)`` to encrypt chosen CALLs end to end and to read encrypted frames
(docs/esp.md): the handlers see the inner frames, and answers to encrypted requests go back
encrypted.

This module is a thin skin over the sans-IO :class:`~ocpp_e2e.guard.GuardConnection`, which
does all the work (see :mod:`ocpp_e2e.guard`): every frame the package sends goes through
``GuardConnection.send`` (signed where a rule says so, else unchanged), and every frame received
goes through ``GuardConnection.receive`` *before* the package validates it or a handler runs. A
permitted frame reaches the package without its signatures (1.6 schemas forbid unknown members),
an unsigned one exactly as received; a refused CALL is answered with CALLERROR ``SecurityError``
(``InternalError`` when it could not be judged); a refused answer makes ``call()`` raise
:class:`ResponseRefused`, :class:`ResponseUnreadable` or :class:`ResponseFailed`. No exception
while handling one frame ends the receive loop.

The adapter relies on three methods of ``ocpp.charge_point.ChargePoint`` (``route_message``,
``_send``, ``_get_specific_response``) as they are in ocpp 2.x. OCPP 2.1 SEND and
CALLRESULTERROR frames are verified, decided and reported, but the ``ocpp`` package 2.1 does not
route those message types (it logs them).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from ocpp.v16 import ChargePoint as _OcppChargePoint16
from ocpp.v21 import ChargePoint as _OcppChargePoint21
from ocpp.v201 import ChargePoint as _OcppChargePoint201

from ..errors import RefusedError
from ..guard import (
    CSMS,
    STATION,
    Answer,
    ClockUpdate,
    DecisionEvent,
    DecisionHook,
    Deliver,
    EncryptRule,
    EspConnection,
    EspSettings,
    Guard,
    GuardConnection,
    GuardSettings,
    RefuseResponse,
    ResponseFailed,
    ResponseRefused,
    ResponseUnreadable,
    Signing,
    SignRule,
    TrustedClock,
)

LOGGER = logging.getLogger("ocpp_e2e.integrations.ocpp")


class _E2EMixin:
    """Signs what the ``ocpp`` package sends and guards what it receives (see the module text)."""

    _ocpp_version: str
    id: str
    logger: logging.Logger

    def __init__(
        self,
        id: str,
        connection: Any,
        *,
        side: str,
        signing: Signing | None = None,
        guard: Guard,
        esp: EspSettings | None = None,
        response_timeout: int = 30,
        logger: logging.Logger | None = None,
    ) -> None:
        plain = guard.connection(id, ocpp=self._ocpp_version, side=side, signing=signing)
        # ESP (docs/esp.md): decrypt before the guard judges, encrypt after it signs.
        e2e = EspConnection(plain, esp) if esp is not None else plain
        kwargs: dict[str, Any] = {"response_timeout": response_timeout}
        if logger is not None:
            kwargs["logger"] = logger
        super().__init__(id, connection, **kwargs)  # type: ignore[call-arg]
        self.side = side
        self.guard = guard
        self.e2e: GuardConnection | EspConnection = e2e
        # Refusals of answers, until the waiting call() collects them; bounded, since an answer
        # may arrive after its call() timed out and then nobody ever collects it.
        self._refused: OrderedDict[str, RefusedError] = OrderedDict()

    @property
    def signing(self) -> Signing:
        """Who signs which outgoing frame; may be replaced while the connection runs."""
        assert self.e2e.signing is not None
        return self.e2e.signing

    @signing.setter
    def signing(self, signing: Signing) -> None:
        self.e2e.signing = signing

    @property
    def station(self) -> str:
        """The identity of the station whose connection this is (the CONTEXT ``station``)."""
        return self.id

    async def _send(self, message: str) -> None:
        await super()._send(await self.e2e.send(message))  # type: ignore[misc]

    async def route_message(self, raw_msg: str | bytes) -> None:
        try:
            action = await self.e2e.receive(raw_msg)
            if isinstance(action, Deliver):
                await super().route_message(action.message)  # type: ignore[misc]
            elif isinstance(action, Answer):
                await self._send(action.frame)
            elif isinstance(action, RefuseResponse):
                self._refused[action.message_id] = action.error
                self._refused.move_to_end(action.message_id)
                while len(self._refused) > self.guard.settings.max_refused:
                    self._refused.popitem(last=False)
                await super().route_message(action.stand_in)  # type: ignore[misc]
        except Exception:  # a handler's or the package's failure must not end the receive loop
            LOGGER.exception("%s: handling a frame failed; the connection keeps serving", self.id)

    async def _get_specific_response(self, unique_id: str, timeout: float) -> Any:
        response = await super()._get_specific_response(unique_id, timeout)  # type: ignore[misc]
        refused = self._refused.pop(unique_id, None)
        if refused is not None:
            raise refused
        return response


class ChargePoint16(_E2EMixin, _OcppChargePoint16):  # type: ignore[misc]
    """``ocpp.v16.ChargePoint`` with signing and guarding (OCPP 1.6: top-level signatures)."""


class ChargePoint201(_E2EMixin, _OcppChargePoint201):  # type: ignore[misc]
    """``ocpp.v201.ChargePoint`` with signing and guarding (signatures in ``customData``)."""


class ChargePoint21(_E2EMixin, _OcppChargePoint21):  # type: ignore[misc]
    """``ocpp.v21.ChargePoint`` with signing and guarding (signatures in ``customData``)."""


__all__ = [
    "CSMS",
    "STATION",
    "ChargePoint16",
    "ChargePoint21",
    "ChargePoint201",
    "ClockUpdate",
    "DecisionEvent",
    "DecisionHook",
    "EncryptRule",
    "EspSettings",
    "Guard",
    "GuardSettings",
    "ResponseFailed",
    "ResponseRefused",
    "ResponseUnreadable",
    "SignRule",
    "Signing",
    "TrustedClock",
]
