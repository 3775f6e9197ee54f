"""End-to-end signatures inside the ``ocpp`` package (PyPI ``ocpp``, by The Mobility House).

Subclass :class:`ChargePoint16` or :class:`ChargePoint201` instead of ``ocpp.v16.ChargePoint`` /
``ocpp.v201.ChargePoint`` and give them a :class:`Signing` (who signs which outgoing frame) and a
:class:`Guard` (how incoming frames are verified and decided). Handlers stay as they are::

    class StationAtCsms(ChargePoint201):
        @on(Action.boot_notification)
        def on_boot(self, charging_station, reason, **kwargs):
            return call_result.BootNotification(current_time=..., interval=300, status="Accepted")

    cp = StationAtCsms("CS-0001", websocket, signing=Signing([SignRule([ops_signer])]),
                       guard=Guard(policy, verifier))

What the adapter does on the wire (SPEC §1, §3, §4, §7):

* Outgoing CALLs and CALLRESULT/CALLERRORs are signed by every matching :class:`SignRule` after the
  ``ocpp`` package built and validated them. OCPP 2.0.1/2.1 payloads carry the signatures in
  ``customData``, so they stay valid against the official schemas and a peer without ocpp-e2e
  accepts them; OCPP 1.6 payloads carry them at top level.
* Every incoming frame is verified and decided by the policy *before* the ``ocpp`` package
  validates it or a handler runs. A permitted frame reaches the package without its signatures
  (1.6 schemas forbid unknown members; 2.0.1 handlers see the payload that was signed). A refused
  CALL is answered with CALLERROR ``SecurityError`` whose details say why; a refused response
  makes ``call()`` raise :class:`ResponseRefused`. A frame that is not I-JSON never reaches the
  application. In ``mode: audit`` every frame passes and the decision is still reported.
* Every decision goes to the :class:`Guard`'s hooks as a :class:`DecisionEvent`.
* On a station, :class:`TrustedClock` is set only from ``currentTime`` of a response that is
  valid, permitted and signed by a CSMS key, and never back by more than ``clockSkew``.

The adapter relies on three methods of ``ocpp.charge_point.ChargePoint`` (``route_message``,
``_send``, ``_get_specific_response``) as they are in ocpp 2.x.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ocpp.v16 import ChargePoint as _OcppChargePoint16
from ocpp.v201 import ChargePoint as _OcppChargePoint201

from .._time import parse_rfc3339, utcnow
from ..context import CallTracker, PendingCall, frame_kind, frame_signing_payload
from ..errors import ConnectionSetupError, InputError, RefusedError
from ..frames import Frame, MessageType, dumps_frame, parse_frame, security_error
from ..keys import Signer
from ..model import Direction, Kind, Verification
from ..policy import Decision, Effect, Mode, Policy, evaluate
from ..sign import sign_frame
from ..verify import Verifier

LOGGER = logging.getLogger("ocpp_e2e.integrations.ocpp")

#: Which side of the connection this adapter runs on.
CSMS = "csms"
STATION = "station"


# --------------------------------------------------------------------------- signing


@dataclass(frozen=True)
class SignRule:
    """Sign outgoing frames of some actions and kinds with these signers.

    ``actions`` None means every action; ``kinds`` are :class:`~ocpp_e2e.model.Kind` values
    (``request`` for CALLs, ``response`` for CALLRESULTs, ``error`` for CALLERRORs).
    ``destination`` names the intended receiver (SPEC §1); ``chained`` endorses the signatures
    already on the frame (a relaying node).

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


@dataclass(frozen=True)
class Signing:
    """The outgoing side: every rule that applies adds its signatures, in order.

    >>> Signing().rules
    ()
    """

    rules: Sequence[SignRule] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))

    def sign(
        self, frame: Frame, *, ocpp: str, station: str, action: str, call: PendingCall | None
    ) -> str | None:
        """The signed frame text, or None when no rule applies (the frame goes out unchanged)."""
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
            )
            current = text
        return text


# --------------------------------------------------------------------------- the trusted clock


@dataclass(frozen=True)
class ClockUpdate:
    """What :meth:`TrustedClock.update` did, and why."""

    applied: bool
    reason: str
    offset: timedelta


class TrustedClock:
    """A station's clock for verification "now" that unverified OCPP data cannot set (SPEC §4).

    The clock is the system clock plus an offset. :meth:`update` moves it to a CSMS
    ``currentTime`` only when the response is ``valid`` (every signature), permitted by the
    policy, and signed by a key holding a CSMS role (``csms_roles`` of the policy, or the
    ``csmsOperator`` certificate usage). It never reads earlier than ``clock_skew`` before the
    latest time it has shown, so a run of signed responses cannot walk it back either.

    >>> clock = TrustedClock(clock_skew=timedelta(seconds=30))
    >>> clock.offset
    datetime.timedelta(0)
    """

    def __init__(
        self,
        *,
        clock_skew: timedelta,
        csms_roles: Iterable[str] = (),
        csms_usages: Iterable[str] = ("csmsOperator",),
        source: Callable[[], datetime] = utcnow,
    ) -> None:
        self.clock_skew = clock_skew
        self.csms_roles = frozenset(csms_roles)
        self.csms_usages = frozenset(csms_usages)
        self._source = source
        self.offset = timedelta(0)
        self._high_water: datetime | None = None

    def now(self) -> datetime:
        """The current trusted time (UTC)."""
        now = self._source() + self.offset
        if self._high_water is None or now > self._high_water:
            self._high_water = now
        return now

    def _csms_signer(self, verification: Verification, decision: Decision) -> str | None:
        for signer in decision.signers:
            if signer.roles & self.csms_roles:
                return signer.identity
        for sig in verification.valid_signers:
            if sig.usages & self.csms_usages:
                return sig.identity or sig.key_id
        return None

    def update(
        self, current_time: Any, verification: Verification, decision: Decision
    ) -> ClockUpdate:
        """Set the clock from a response's ``currentTime`` if SPEC §4 allows it."""

        def refuse(reason: str) -> ClockUpdate:
            LOGGER.info("clock not set from currentTime: %s", reason)
            return ClockUpdate(False, reason, self.offset)

        if not isinstance(current_time, str):
            return refuse("the response has no currentTime string")
        if not verification.all_valid:
            return refuse("the response is not validly signed (every signature must be valid)")
        if decision.effect is not Effect.PERMIT:
            return refuse(f"the policy did not permit the response ({decision.reason})")
        who = self._csms_signer(verification, decision)
        if who is None:
            return refuse("no signer of the response holds a CSMS role")
        try:
            when = parse_rfc3339(current_time)
        except ValueError as exc:
            return refuse(str(exc))
        reading = self.now()  # counts as shown, however long since the clock was last read
        floor = max(reading, self._high_water or reading) - self.clock_skew
        if when < floor:
            return refuse(
                f"currentTime {current_time} is more than clockSkew before the clock's latest time"
            )
        self.offset = when - self._source()
        return ClockUpdate(True, f"set from currentTime signed by {who}", self.offset)


# --------------------------------------------------------------------------- the guard


@dataclass(frozen=True)
class DecisionEvent:
    """One decision on one incoming frame, for the application's logs and metrics.

    ``enforced`` is True when the frame was blocked (a refusal in ``mode: enforce``).
    """

    station: str
    direction: Direction
    message_id: str
    action: str | None
    kind: Kind
    verification: Verification
    decision: Decision
    enforced: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON view for structured logs."""
        return {
            "station": self.station,
            "direction": self.direction.value,
            "messageId": self.message_id,
            "action": self.action,
            "kind": self.kind.value,
            "enforced": self.enforced,
            "decision": self.decision.to_dict(),
        }


DecisionHook = Callable[[DecisionEvent], None]


class Guard:
    """The incoming side: a verifier, a policy, decision hooks and the clock for "now".

    In ``mode: enforce`` the verifier must have a replay cache (SPEC §4); use
    :class:`~ocpp_e2e.replay.SQLiteReplayCache` so it survives restarts.
    """

    def __init__(
        self,
        policy: Policy,
        verifier: Verifier,
        *,
        hooks: Iterable[DecisionHook] = (),
        clock: TrustedClock | Callable[[], datetime] | None = None,
    ) -> None:
        if policy.mode is Mode.ENFORCE and verifier.replay_cache is None:
            raise ConnectionSetupError(
                f"policy {policy.id!r} is in mode: enforce, which needs a replay cache that "
                "survives restarts (SPEC §4): give the Verifier a SQLiteReplayCache"
            )
        self.policy = policy
        self.verifier = verifier
        self.hooks = list(hooks)
        self.clock = clock
        cache = verifier.replay_cache
        if (
            policy.mode is Mode.ENFORCE
            and cache is not None
            and not getattr(cache, "survives_restart", False)
        ):
            # SPEC §4: a cache that forgets on restart is allowed only if signatures dated before
            # the start are refused.
            started = self.now()
            if verifier.not_before is None or verifier.not_before < started:
                verifier.not_before = started

    def now(self) -> datetime:
        """The time of receipt used for freshness and policy validity."""
        if isinstance(self.clock, TrustedClock):
            return self.clock.now()
        return self.clock() if self.clock is not None else utcnow()

    def check(
        self, frame: Frame, *, ocpp: str, station: str, call: PendingCall | None = None
    ) -> tuple[Verification, Decision]:
        """Verify and decide one frame parsed (``parse_frame``) from the bytes received."""
        now = self.now()
        checked = self.verifier.verify_frame(frame, ocpp=ocpp, station=station, call=call, now=now)
        return checked.verification, evaluate(self.policy, checked.verification, now=now)

    def report(self, event: DecisionEvent) -> None:
        """Hand a decision to every hook; a failing hook is logged, never breaks the connection."""
        for hook in self.hooks:
            try:
                hook(event)
            except Exception:
                LOGGER.exception("decision hook %r failed", hook)


class ResponseRefused(RefusedError):
    """The response to our CALL was refused by the policy (raised by ``ChargePoint.call``)."""

    def __init__(self, action: str, decision: Decision, verification: Verification) -> None:
        self.action = action
        self.decision = decision
        self.verification = verification
        super().__init__(f"response to {action} refused: {decision.summary()}")


class ResponseUnreadable(RefusedError):
    """The response to our CALL was not even strict I-JSON / OCPP-J (raised by ``ChargePoint.call``)."""

    def __init__(self, action: str, error: InputError) -> None:
        self.action = action
        self.error = error
        super().__init__(f"response to {action} refused, it cannot be read: {error}")


# --------------------------------------------------------------------------- the adapter


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
        response_timeout: int = 30,
        logger: logging.Logger | None = None,
    ) -> None:
        if side not in (CSMS, STATION):
            raise ConnectionSetupError(f"side must be {CSMS!r} or {STATION!r}, not {side!r}")
        kwargs: dict[str, Any] = {"response_timeout": response_timeout}
        if logger is not None:
            kwargs["logger"] = logger
        super().__init__(id, connection, **kwargs)  # type: ignore[call-arg]
        self.side = side
        self.signing = signing or Signing()
        self.guard = guard
        self._tracker = CallTracker()
        self._refused: dict[str, ResponseRefused | ResponseUnreadable] = {}
        self._outgoing = Direction.TO_STATION if side == CSMS else Direction.TO_CSMS

    @property
    def station(self) -> str:
        """The identity of the station whose connection this is (the CONTEXT ``station``)."""
        return self.id

    # -- outgoing

    async def _send(self, message: str) -> None:
        frame = parse_frame(message, ocpp=self._ocpp_version)
        pending = self._tracker.observe(frame, self.station, self._outgoing)
        action = frame.action if frame.is_call else (pending.action if pending else None)
        if action is not None and (frame.is_call or pending is not None):
            signed = self.signing.sign(
                frame, ocpp=self._ocpp_version, station=self.station, action=action, call=pending
            )
            if signed is not None:
                message = signed
        await super()._send(message)  # type: ignore[misc]

    # -- incoming

    async def route_message(self, raw_msg: str | bytes) -> None:
        incoming = self._outgoing.reverse
        try:
            frame = parse_frame(raw_msg, ocpp=self._ocpp_version)
        except InputError as exc:
            await self._refuse_unreadable(raw_msg, exc)
            return
        pending = self._tracker.observe(frame, self.station, incoming)
        try:
            verification, decision = self.guard.check(
                frame, ocpp=self._ocpp_version, station=self.station, call=pending
            )
        except InputError as exc:  # beyond a SPEC §2 limit (e.g. 17 signatures): no verdict
            await self._refuse_unreadable(raw_msg, exc)
            return
        kind = frame_kind(frame)
        action = frame.action if frame.is_call else (pending.action if pending else None)
        blocked = not decision.allowed
        self.guard.report(
            DecisionEvent(
                self.station,
                incoming,
                frame.message_id,
                action,
                kind,
                verification,
                decision,
                blocked,
            )
        )
        if decision.would_deny:
            LOGGER.warning("%s: audit mode, would deny %s: %s", self.id, action, decision.summary())
        if frame.is_call:
            if blocked:
                LOGGER.warning("%s: refused %s: %s", self.id, action, decision.summary())
                details = {"rule": decision.rule, "policy": decision.policy_id}
                error = security_error(frame.message_id, decision.reason, details)
                await self._send(dumps_frame(error))
                return
        else:
            if blocked and pending is not None:  # only a call() waiting for it ever collects it
                self._refused[frame.message_id] = ResponseRefused(
                    action or "unknown action", decision, verification
                )
            elif (
                self.side == STATION
                and isinstance(self.guard.clock, TrustedClock)
                and frame.type is MessageType.CALLRESULT
            ):
                current = (
                    verification.payload.get("currentTime")
                    if isinstance(verification.payload, dict)
                    else None
                )
                if current is not None:
                    self.guard.clock.update(current, verification, decision)
        await super().route_message(self._without_signatures(frame))  # type: ignore[misc]

    def _without_signatures(self, frame: Frame) -> str:
        value = list(frame.value)
        payload = frame_signing_payload(frame)
        if frame.type in (MessageType.CALL, MessageType.SEND):
            value[3] = payload
        elif frame.type is MessageType.CALLRESULT:
            value[2] = payload
        else:
            value[4] = payload["errorDetails"]
        return dumps_frame(value)

    async def _refuse_unreadable(self, raw_msg: str | bytes, exc: InputError) -> None:
        LOGGER.warning("%s: refused a frame that is not I-JSON/OCPP-J: %s", self.id, exc)
        try:
            value = json.loads(raw_msg)
        except (ValueError, RecursionError):  # nesting too deep for the standard library too
            return  # nobody could read it, the `ocpp` package included: drop it
        if self.guard.policy.mode is Mode.AUDIT:
            await super().route_message(raw_msg)  # type: ignore[misc]
            return
        if not (
            isinstance(value, list)
            and len(value) >= 2
            and isinstance(value[1], str)
            and 0 < len(value[1]) <= 36
        ):
            return
        if value[0] == MessageType.CALL:
            await self._send(dumps_frame(security_error(value[1], f"frame refused: {exc}")))
        elif value[0] in (MessageType.CALLRESULT, MessageType.CALLERROR):
            # The answer to one of our CALLs, unreadable: settle that CALL with a CALLERROR of our
            # own making, so that the waiting call() raises at once instead of timing out.
            stand_in = parse_frame(
                dumps_frame(security_error(value[1], f"response refused: {exc}")),
                ocpp=self._ocpp_version,
            )
            pending = self._tracker.observe(stand_in, self.station, self._outgoing.reverse)
            if pending is not None:
                self._refused[value[1]] = ResponseUnreadable(pending.action, exc)
                await super().route_message(dumps_frame(list(stand_in.value)))  # type: ignore[misc]

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
