"""ESP inside the guard (docs/esp.md §9.6, §9.8): decrypt before judging, encrypt after signing.

:class:`EspConnection` wraps a :class:`~ocpp_e2e.guard.GuardConnection` and keeps its interface
(``send``, ``receive`` and the same actions), so every skin (the ``ocpp`` adapter, a gateway)
gets ESP by configuration:

* ``receive``: an ESP request (``DataTransfer`` of ``org.ocpp-e2e``) is decrypted and its inner
  frame judged by the guard exactly as a plaintext frame; an encrypted answer to one of our
  encrypted CALLs likewise. An envelope that is refused (docs/esp.md §9.6 outcome) is answered
  with CALLERROR ``SecurityError`` whose details name the outcome (``{"reason", "esp"}``), or
  fails the waiting call, and is reported to the guard's hooks (failure ``esp-<outcome>``).
* ``send``: the guard signs first (sign, then encrypt); then a CALL or SEND that an
  :class:`EncryptRule` names is encrypted to the peer's key, and every answer to an encrypted
  request is encrypted to the key that request named, whatever the rules say. A CALL that must be
  encrypted but has no key for the peer raises :class:`~ocpp_e2e.esp.EncryptionError` (the
  application's call fails; it is never sent in plaintext).

>>> from ocpp_e2e.esp import EspReceiver, EspKeyring, generate_esp_key
>>> key = generate_esp_key()
>>> settings = EspSettings(EspReceiver([key]), peer_keys=EspKeyring(), reply_key=key,
...                        encrypt=[EncryptRule(actions=["SetChargingProfile"])])
>>> settings.encrypts("SetChargingProfile", "request"), settings.encrypts("Heartbeat", "request")
(True, False)
"""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..context import normalize_station
from ..errors import ConnectionSetupError, InputError
from ..esp import (
    ESP_MESSAGE_ID,
    AnswerTo,
    EncryptionError,
    EspKeyring,
    EspPending,
    EspPrivateKey,
    EspPublicKey,
    EspReceiver,
    Opened,
    Sealed,
    encrypt_frame,
    is_esp_request,
)
from ..esp.frames import THREAD_THRESHOLD
from ..frames import Frame, MessageType, call_error, dumps_frame, parse_frame
from ..model import Kind
from ..policy import Mode
from .core import CSMS, Action, Answer, Guard, GuardConnection
from .signing import Signing


@dataclass(frozen=True)
class EncryptRule:
    """Encrypt outgoing CALLs (and OCPP 2.1 SENDs) of these actions; None means every action.

    >>> EncryptRule(actions=["SetChargingProfile"]).applies("Reset", "request")
    False
    """

    actions: Iterable[str] | None = None
    kinds: Iterable[Kind | str] = (Kind.REQUEST, Kind.SEND)
    _actions: frozenset[str] | None = field(init=False, repr=False, compare=False)
    _kinds: frozenset[Kind] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_actions", None if self.actions is None else frozenset(self.actions)
        )
        kinds = frozenset(Kind(k) for k in self.kinds)
        if not kinds <= {Kind.REQUEST, Kind.SEND}:
            raise ValueError(
                "an EncryptRule names requests and sends; answers to encrypted requests are "
                "always encrypted, others never"
            )
        object.__setattr__(self, "_kinds", kinds)

    def applies(self, action: str, kind: Kind | str) -> bool:
        return Kind(kind) in self._kinds and (self._actions is None or action in self._actions)


@dataclass(frozen=True)
class EspSettings:
    """How one node uses ESP.

    ``receiver`` holds this node's private keys, the keys answers may go to, the certificate
    validator for ``replyCertificates`` and the replay cache. ``reply_key`` is the key this node's
    encrypted CALLs name for their answers (one of the receiver's keys), with
    ``reply_certificates`` when the peer knows it only by certificate. ``peer_keys`` are the keys
    to encrypt to, by identity: on a CSMS the station's identity, on a station ``csms_identity``.
    """

    receiver: EspReceiver
    peer_keys: EspKeyring
    reply_key: EspPrivateKey
    encrypt: Sequence[EncryptRule] = ()
    reply_certificates: Sequence[bytes] = ()
    csms_identity: str = "csms"
    suite: str | None = None
    replay_timeout: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "encrypt", tuple(self.encrypt))
        if self.reply_key.key_id not in self.receiver.private_keys:
            raise EncryptionError(
                "the reply key must be one of the receiver's private keys (answers come back to it)"
            )

    def encrypts(self, action: str, kind: Kind | str) -> bool:
        """Whether an outgoing CALL/SEND of ``action`` is to be encrypted."""
        return any(rule.applies(action, kind) for rule in self.encrypt)

    def peer_key(self, station: str, side: str) -> EspPublicKey | None:
        """The key to encrypt to on ``station``'s connection seen from ``side``."""
        peer = station if side == CSMS else self.csms_identity
        keys = self.peer_keys.for_identity(normalize_station(peer))
        return keys[0] if keys else None


async def _sealing(text: str, **options: Any) -> Sealed:
    """encrypt_frame, in a worker thread for a large frame (the event loop keeps serving)."""
    if len(text) > THREAD_THRESHOLD:
        return await asyncio.to_thread(functools.partial(encrypt_frame, text, **options))
    return encrypt_frame(text, **options)


class EspConnection:
    """A :class:`GuardConnection` with ESP (see the module text); same interface."""

    def __init__(self, connection: GuardConnection, settings: EspSettings) -> None:
        if connection.guard.policy.mode is Mode.ENFORCE and settings.receiver.replay_cache is None:
            raise ConnectionSetupError(
                f"policy {connection.guard.policy.id!r} is in mode: enforce, which needs a replay "
                "cache for encrypted frames too (docs/esp.md §9.6): give the EspReceiver one"
            )
        self.connection = connection
        self.settings = settings
        # Encrypted requests received, by inner id, until the application answers them.
        self._answer_to: OrderedDict[str, AnswerTo] = OrderedDict()
        # Our encrypted CALLs, by outer id, until their answer arrives.
        self._pending: OrderedDict[str, EspPending] = OrderedDict()

    # -- what the skins use of a GuardConnection

    @property
    def guard(self) -> Guard:
        return self.connection.guard

    @property
    def station(self) -> str:
        return self.connection.station

    @property
    def ocpp(self) -> str:
        return self.connection.ocpp

    @property
    def side(self) -> str:
        return self.connection.side

    @property
    def signing(self) -> Signing | None:
        return self.connection.signing

    @signing.setter
    def signing(self, signing: Signing) -> None:
        self.connection.signing = signing

    def _limit(self, table: OrderedDict[str, object]) -> None:
        while len(table) > self.guard.settings.max_pending_calls:
            table.popitem(last=False)

    # -- outgoing

    async def send(self, message: str) -> str:
        """Sign (the guard), then encrypt what the settings or an encrypted request require."""
        try:
            frame: Frame | None = parse_frame(message, ocpp=self.ocpp)
        except InputError:
            frame = None
        if frame is None:
            return await self.connection.send(message)
        if frame.type in (MessageType.CALLRESULT, MessageType.CALLERROR):
            answer_to = self._answer_to.pop(frame.message_id, None)
            text = await self.connection.send(message)
            if answer_to is None:
                return text
            return (
                await _sealing(
                    text,
                    ocpp=self.ocpp,
                    station=self.station,
                    direction=self.connection.outgoing,
                    answering=answer_to,
                    suite=self.settings.suite,
                    now=self.guard.now(),
                )
            ).text
        kind = Kind.REQUEST if frame.type is MessageType.CALL else Kind.SEND
        if (
            frame.type not in (MessageType.CALL, MessageType.SEND)
            or frame.action is None
            or is_esp_request(frame)
            or not self.settings.encrypts(frame.action, kind)
        ):
            return await self.connection.send(message)
        recipient = self.settings.peer_key(self.station, self.side)
        if recipient is None:
            peer = self.station if self.side == CSMS else self.settings.csms_identity
            raise EncryptionError(
                f"{frame.action} must be encrypted, but there is no ESP key for {peer}; "
                "it is not sent in plaintext"
            )
        text = await self.connection.send(message)  # signs and remembers the inner CALL
        is_call = frame.type is MessageType.CALL
        sealed = await _sealing(
            text,
            ocpp=self.ocpp,
            station=self.station,
            direction=self.connection.outgoing,
            recipient=recipient,
            reply_to=self.settings.reply_key.public if is_call else None,
            reply_certificates=self.settings.reply_certificates if is_call else (),
            suite=self.settings.suite,
            now=self.guard.now(),
        )
        if sealed.pending is not None:
            self._pending[frame.message_id] = sealed.pending
            self._limit(self._pending)  # type: ignore[arg-type]
        return sealed.text

    # -- incoming

    async def receive(self, data: str | bytes) -> Action:
        """Decrypt ESP frames and judge their inner frame; judge every other frame as is."""
        try:
            outer: Frame | None = parse_frame(data, ocpp=self.ocpp)
        except InputError:
            outer = None
        if outer is None:
            return await self.connection.receive(data)
        pending = None
        if outer.type is MessageType.CALLRESULT:
            pending = self._pending.pop(outer.message_id, None)
            if pending is None:
                return await self.connection.receive(data)
        elif outer.type is MessageType.CALLERROR:
            self._pending.pop(outer.message_id, None)  # a plaintext refusal of our request
            return await self.connection.receive(data)
        elif not is_esp_request(outer):
            return await self.connection.receive(data)
        elif outer.payload.get("messageId") != ESP_MESSAGE_ID and outer.type is MessageType.CALL:
            return await self._unknown_version(data, outer)
        opened = await self.settings.receiver.decrypt_frame_async(
            outer,
            ocpp=self.ocpp,
            station=self.station,
            direction=self.connection.incoming,
            pending=pending,
            now=self.guard.now(),
            replay_timeout=self.settings.replay_timeout,
        )
        if not opened.ok:
            return await self._refused(data, opened)
        assert opened.inner is not None
        if opened.answer_to is not None:
            self._answer_to[opened.answer_to.call.message_id] = opened.answer_to
            self._limit(self._answer_to)  # type: ignore[arg-type]
        # The inner frame is handed on in the form the outer one came (text for a text message).
        inner = opened.inner.decode("utf-8") if isinstance(data, str) else opened.inner
        return await self.connection.receive(inner, encrypted=True)

    async def _unknown_version(self, data: str | bytes, outer: Frame) -> Action:
        """Another version of ESP (docs/esp.md §9.3): DataTransfer's own ``UnknownMessageId``."""
        reason = f"ESP messageId {outer.payload.get('messageId')!r} is not {ESP_MESSAGE_ID!r}"
        action = await self.connection._failed(
            self.guard._state, data, reason, "esp-unknown-version", "SecurityError"
        )
        if isinstance(action, Answer):
            result = [int(MessageType.CALLRESULT), outer.message_id, {"status": "UnknownMessageId"}]
            return Answer(dumps_frame(result), action.message_id, reason, action.event)
        return action

    async def _refused(self, data: str | bytes, opened: Opened) -> Action:
        reason = f"encrypted frame refused: {opened.outcome.value}: {opened.reason}"
        action = await self.connection._failed(
            self.guard._state,
            data,
            reason,
            f"esp-{opened.outcome.value}",
            "SecurityError",
        )
        if isinstance(action, Answer):
            error = call_error(
                action.message_id,
                "SecurityError",
                reason[:255],
                {"reason": reason, "esp": opened.outcome.value},
            )
            return Answer(dumps_frame(error), action.message_id, reason, action.event)
        return action


__all__ = ["EncryptRule", "EspConnection", "EspSettings"]
