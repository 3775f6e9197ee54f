"""The outgoing side: which frames are signed, by whom, without blocking an event loop.

A :class:`Signing` is a list of :class:`SignRule`; every rule that applies to a frame's action and
kind adds its signers' signatures (SPEC §1, §3). A frame no rule applies to is sent exactly as the
application wrote it (SPEC §2).

Signers may be synchronous (``sign(data) -> bytes``) or asynchronous (``async def sign(data)``,
e.g. a remote HSM or a cloud KMS). :meth:`Signing.sign_async` signs in-memory keys
(:class:`~ocpp_e2e.keys.KeySigner`, microseconds) in place and every other signer in a worker
thread, awaiting asynchronous ones back on the loop, all within one bounded wait.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..context import PendingCall, frame_kind
from ..errors import SigningError
from ..frames import Frame
from ..keys import KeySigner, Signer
from ..model import Kind
from ..sign import sign_frame

__all__ = [
    "SignRule",
    "Signing",
]


@dataclass(frozen=True)
class SignRule:
    """Sign outgoing frames of some actions and kinds with these signers.

    ``actions`` None means every action; ``kinds`` are :class:`~ocpp_e2e.model.Kind` values
    (``request`` for CALLs, ``response`` for CALLRESULTs, ``error`` for CALLERRORs).
    ``destination`` names the intended receiver (SPEC §1); ``chained`` endorses the signatures
    already on the frame (a relaying node). A signer's ``sign`` may be ``async``.

    >>> rule = SignRule([], actions=["SetChargingProfile"])
    >>> rule.applies("SetChargingProfile", Kind.REQUEST), rule.applies("Reset", Kind.REQUEST)
    (True, False)
    """

    signers: Sequence[Signer]
    actions: Iterable[str] | None = None
    kinds: Iterable[Kind | str] = (Kind.REQUEST, Kind.RESPONSE)
    destination: str | None = None
    chained: bool = False
    _actions: frozenset[str] | None = field(init=False, repr=False, compare=False)
    _kinds: frozenset[Kind] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signers", tuple(self.signers))
        object.__setattr__(
            self, "_actions", None if self.actions is None else frozenset(self.actions)
        )
        object.__setattr__(self, "_kinds", frozenset(Kind(k) for k in self.kinds))

    def applies(self, action: str, kind: Kind) -> bool:
        """Whether this rule signs a frame of ``action`` and ``kind``."""
        return kind in self._kinds and (self._actions is None or action in self._actions)

    @property
    def in_place(self) -> bool:
        """True when every signer is an in-memory key (signing costs microseconds)."""
        return all(type(s) is KeySigner for s in self.signers)


@dataclass(frozen=True)
class Signing:
    """The outgoing side: every rule that applies adds its signatures, in order.

    >>> Signing().rules
    ()
    >>> Signing().applies("Heartbeat", Kind.REQUEST)
    False
    """

    rules: Sequence[SignRule] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))

    def applies(self, action: str, kind: Kind) -> bool:
        """Whether any rule signs a frame of ``action`` and ``kind``."""
        return any(r.signers and r.applies(action, kind) for r in self.rules)

    def sign(
        self,
        frame: Frame,
        *,
        ocpp: str,
        station: str,
        action: str,
        call: PendingCall | None,
        timestamp: datetime,
    ) -> str | None:
        """The signed frame text, or None when no rule applies (the frame goes out unchanged).

        Synchronous: every signer's ``sign`` must return bytes. On an event loop use
        :meth:`sign_async`.
        """
        kind = frame_kind(frame)
        text: str | None = None
        current: Frame | str = frame
        for rule in self.rules:
            if not rule.signers or not rule.applies(action, kind):
                continue
            text = sign_frame(
                current,
                rule.signers,
                ocpp=ocpp,
                station=station,
                call=call,
                destination=rule.destination,
                chained=rule.chained,
                timestamp=timestamp,
            )
            current = text
        return text

    async def sign_async(
        self,
        frame: Frame,
        *,
        ocpp: str,
        station: str,
        action: str,
        call: PendingCall | None,
        timestamp: datetime,
        timeout: float,
    ) -> str | None:
        """:meth:`sign` for an event loop, bounded by ``timeout`` seconds.

        Raises :class:`~ocpp_e2e.errors.SigningError` naming the cause when a signer fails or
        does not answer in time.
        """
        kind = frame_kind(frame)
        rules = [r for r in self.rules if r.signers and r.applies(action, kind)]
        if not rules:
            return None
        loop = asyncio.get_running_loop()
        text: str | None = None
        current: Frame | str = frame
        try:
            async with asyncio.timeout(timeout):
                for rule in rules:
                    options: dict[str, Any] = {
                        "ocpp": ocpp,
                        "station": station,
                        "call": call,
                        "destination": rule.destination,
                        "chained": rule.chained,
                        "timestamp": timestamp,
                    }
                    if rule.in_place:
                        signed = sign_frame(current, rule.signers, **options)
                    else:
                        bridged = [_LoopSigner(s, loop, timeout) for s in rule.signers]
                        signed = await loop.run_in_executor(
                            None, functools.partial(sign_frame, current, bridged, **options)
                        )
                    text = current = signed
        except TimeoutError:
            raise SigningError(f"a signer did not answer within {timeout:g} s") from None
        except SigningError:
            raise
        except Exception as exc:  # an HSM/KMS error, a bug in a signer: say which kind
            raise SigningError(f"a signer failed: {type(exc).__name__}: {exc}") from exc
        return text


class _LoopSigner:
    """A signer usable from a worker thread: an ``async`` ``sign`` is run on the event loop."""

    def __init__(self, signer: Signer, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._signer = signer
        self._loop = loop
        self._timeout = timeout
        self.key_id = signer.key_id
        self.algorithm = signer.algorithm
        self.public_key_der = signer.public_key_der
        self.certificates = signer.certificates

    def sign(self, data: bytes) -> bytes:
        result: Any = self._signer.sign(data)
        if inspect.isawaitable(result):
            result = asyncio.run_coroutine_threadsafe(_await(result), self._loop).result(
                self._timeout
            )
        if not isinstance(result, bytes):
            raise SigningError(
                f"signer {self.key_id} returned {type(result).__name__}, not the signature bytes"
            )
        return result


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
