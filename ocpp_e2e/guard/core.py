"""Enforcement without I/O (sans-IO, like h11/wsproto): fed frames, returns what to do.

A :class:`Guard` holds what every connection shares: the policy, the verifier, the replay cache,
the decision hooks, the clock and the :class:`GuardSettings`; :meth:`Guard.swap` replaces policy,
verifier and settings together while connections run. :meth:`Guard.connection` gives a
:class:`GuardConnection` per OCPP connection (one station, one OCPP version), which pairs answers
with CALLs (SPEC §3) and turns every frame into an action:

* :meth:`GuardConnection.receive` (a frame from the peer) returns

  - :class:`Deliver`: pass ``message`` to the application (or forward ``data``, the exact bytes
    received, as a gateway does);
  - :class:`Answer`: do not deliver; send ``frame`` (a CALLERROR) back to the peer, through
    :meth:`GuardConnection.send` like any frame of your own;
  - :class:`RefuseResponse`: the answer to one of our CALLs was refused; make the waiting call
    fail with ``error`` (``stand_in`` is a CALLERROR with the same id, for a stack that needs a
    frame to settle the call);
  - :class:`Drop`: nothing can be done with the frame (no id can be read).

* :meth:`GuardConnection.send` (a frame of the application) returns the text to put on the wire:
  signed where a :class:`~ocpp_e2e.guard.signing.SignRule` says so, else exactly as written.

Nothing here touches a socket or imports an OCPP library; the slow parts (replay cache, signers,
hooks) are awaited with bounded waits. One frame never ends a connection: any exception while
handling it becomes an answer (CALLERROR ``InternalError`` for a CALL, a failed call for a
response) and the connection keeps serving.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from ..canonical import MAX_BYTES
from ..context import (
    CallTracker,
    PendingCall,
    find_signatures,
    frame_kind,
    frame_signing_payload,
    normalize_station,
)
from ..errors import ConnectionSetupError, InputError, RefusedError, SigningError
from ..exact import read_exact
from ..frames import (
    MAX_MESSAGE_ID,
    Frame,
    MessageType,
    call_error,
    dumps_frame,
    parse_frame,
    security_error,
)
from ..model import Direction, Kind, Outcome, Verification
from ..policy import Decision, Mode, Policy, UpgradeResult, check_upgrade, evaluate, load_policy
from ..policy import refusal as refusal_decision
from ..replay import ReplayCache, ReplayCacheUnavailable
from ..verify import Verifier
from .clock import TrustedClock
from .signing import Signing

LOGGER = logging.getLogger("ocpp_e2e.guard")

#: Which side of the connection a :class:`GuardConnection` runs on.
CSMS = "csms"
STATION = "station"


# --------------------------------------------------------------------------- settings and events


@dataclass(frozen=True)
class GuardSettings:
    """Bounds for production (every wait fails closed when it runs out).

    >>> GuardSettings().replay_timeout
    1.0
    """

    #: Seconds to wait for the replay cache before refusing ("replay cache unavailable").
    replay_timeout: float = 1.0
    #: Seconds to wait for the signers of one outgoing frame.
    sign_timeout: float = 2.0
    #: Seconds to wait for one asynchronous decision hook.
    hook_timeout: float = 1.0
    #: Largest frame without signatures that is read (SPEC §2: a setting, default 1 MiB). Frames
    #: with signatures are always limited to 1 MiB.
    max_unsigned_bytes: int = MAX_BYTES
    #: CALLs remembered per connection and direction for pairing answers (SPEC §3).
    max_pending_calls: int = 1024
    #: Refused answers kept for calls still waiting (skins that settle calls later).
    max_refused: int = 256

    def __post_init__(self) -> None:
        for name in ("replay_timeout", "sign_timeout", "hook_timeout"):
            value = getattr(self, name)
            if not 0 < value <= 3600:
                raise ValueError(
                    f"{name} must be more than 0 and at most 3600 seconds, not {value}"
                )
        for name in ("max_unsigned_bytes", "max_pending_calls", "max_refused"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


@dataclass(frozen=True)
class DecisionEvent:
    """One decision on one incoming frame, for the application's logs and metrics.

    ``enforced`` is True when the frame was blocked (a refusal in ``mode: enforce``). ``failure``
    names a frame that could not be judged normally: ``unreadable`` (not I-JSON or not OCPP-J),
    ``oversized`` (beyond a size limit), ``replay-cache-unavailable`` or ``internal-error``; its
    ``decision`` is then a DENY whose reason says why, and ``kind``/``action`` may be unknown.
    """

    station: str
    direction: Direction
    message_id: str
    action: str | None
    kind: Kind | None
    verification: Verification
    decision: Decision
    enforced: bool
    failure: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON view for structured logs."""
        out = {
            "station": self.station,
            "direction": self.direction.value,
            "messageId": self.message_id,
            "action": self.action,
            "kind": self.kind.value if self.kind is not None else None,
            "enforced": self.enforced,
            "decision": self.decision.to_dict(),
        }
        if self.failure is not None:
            out["failure"] = self.failure
        return out


#: A hook: a plain function or an ``async def`` taking a :class:`DecisionEvent`.
DecisionHook = Callable[[DecisionEvent], "Awaitable[None] | None"]


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


class ResponseFailed(RefusedError):
    """The response to our CALL could not be judged (the replay cache did not answer, a bug);
    refused, since an unjudged answer must not pass (raised by ``ChargePoint.call``)."""

    def __init__(self, action: str, reason: str) -> None:
        self.action = action
        self.reason = reason
        super().__init__(f"response to {action} refused: {reason}")


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Deliver:
    """Pass the frame on. ``data`` is exactly what was received (forward it byte for byte);
    ``message`` is the frame for an application that reads payloads without signatures (the same
    text when the frame carries none). ``frame`` is the parsed frame (None for a frame that
    passes unjudged in ``mode: audit``)."""

    data: str | bytes = field(repr=False)
    message: str | bytes = field(repr=False)
    frame: Frame | None = field(repr=False)
    event: DecisionEvent


@dataclass(frozen=True)
class Answer:
    """Do not deliver; send ``frame`` (a CALLERROR for the refused CALL) back to the peer."""

    frame: str
    message_id: str
    reason: str
    event: DecisionEvent


@dataclass(frozen=True)
class RefuseResponse:
    """The answer to our CALL ``message_id`` was refused: the waiting call fails with ``error``.

    ``stand_in`` is a CALLERROR frame with that id that carries no authority (for stacks that
    settle a call only with a frame); never forward it as the peer's answer.
    """

    message_id: str
    action: str
    error: RefusedError
    stand_in: str
    event: DecisionEvent


@dataclass(frozen=True)
class Drop:
    """Nothing to deliver and nobody to answer (no message id could be read)."""

    reason: str
    event: DecisionEvent


Action = Deliver | Answer | RefuseResponse | Drop


# --------------------------------------------------------------------------- the guard


class _State(NamedTuple):
    """What one frame is judged with; replaced as a whole by :meth:`Guard.swap`."""

    policy: Policy
    verifier: Verifier
    replay_cache: Any
    settings: GuardSettings


class _Deferred:
    """A replay cache for one verification: records the checks, answers "not seen".

    The verifier runs synchronously; the guard then asks the real (asynchronous) cache, with a
    bounded wait, and marks the signatures it has seen as ``replayed``.
    """

    survives_restart = True

    def __init__(self) -> None:
        self.checks: list[tuple[str, bytes, datetime]] = []

    def check_and_add(
        self, key_id: str, input_digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        self.checks.append((key_id, input_digest, expires))
        return False


class Guard:
    """The incoming side: a verifier, a policy, decision hooks and the clock for "now".

    In ``mode: enforce`` a replay cache is required (SPEC §4): give the verifier one
    (``policy.verifier(replay_cache=SQLiteReplayCache(path))``) or pass ``replay_cache``. On an
    event loop the cache is asked through ``check_and_add_async`` when it has one (both caches of
    :mod:`ocpp_e2e.replay` do), within ``settings.replay_timeout``.

    >>> policy = Policy.from_dict({"type": "SignaturePolicy", "id": "demo", "version": 1,
    ...     "mode": "audit", "rules": []})
    >>> from datetime import UTC, datetime
    >>> guard = Guard(policy, policy.verifier(), clock=lambda: datetime(2026, 11, 22, 10, tzinfo=UTC))
    >>> guard.policy.id, guard.settings.replay_timeout
    ('demo', 1.0)
    """

    def __init__(
        self,
        policy: Policy,
        verifier: Verifier,
        *,
        hooks: Iterable[DecisionHook] = (),
        clock: TrustedClock | Callable[[], datetime],
        replay_cache: Any = None,
        settings: GuardSettings | None = None,
    ) -> None:
        self.hooks = list(hooks)
        self.clock = clock
        self._state = self._prepare(policy, verifier, replay_cache, settings or GuardSettings())

    # -- configuration, swapped atomically

    def _prepare(
        self, policy: Policy, verifier: Verifier, replay_cache: Any, settings: GuardSettings
    ) -> _State:
        cache = replay_cache if replay_cache is not None else verifier.replay_cache
        if policy.mode is Mode.ENFORCE and cache is None:
            raise ConnectionSetupError(
                f"policy {policy.id!r} is in mode: enforce, which needs a replay cache that "
                "survives restarts (SPEC §4): give the Verifier a SQLiteReplayCache"
            )
        if policy.mode is Mode.ENFORCE and not getattr(cache, "survives_restart", False):
            # SPEC §4: a cache that forgets on restart is allowed only if signatures dated before
            # the start are refused.
            started = self.now()
            if verifier.not_before is None or verifier.not_before < started:
                verifier.not_before = started
        return _State(policy, verifier, cache, settings)

    @property
    def policy(self) -> Policy:
        """The active policy."""
        return self._state.policy

    @property
    def verifier(self) -> Verifier:
        """The verifier of the active policy."""
        return self._state.verifier

    @property
    def settings(self) -> GuardSettings:
        """The active :class:`GuardSettings`."""
        return self._state.settings

    def swap(
        self,
        policy: Policy,
        verifier: Verifier | None = None,
        *,
        settings: GuardSettings | None = None,
        replay_cache: Any = None,
    ) -> None:
        """Replace policy, verifier and settings together, while connections run.

        Every frame is judged wholly under the old or wholly under the new configuration (each
        takes one snapshot when it starts). Without ``verifier`` the policy's own is built
        (``policy.verifier``) with the current replay cache; without ``settings`` they stay.
        Raises like the constructor for an unusable combination, leaving the old one active.
        """
        old = self._state
        cache = replay_cache if replay_cache is not None else old.replay_cache
        if verifier is None:
            sync_cache: ReplayCache | None = cache if hasattr(cache, "check_and_add") else None
            verifier = policy.verifier(replay_cache=sync_cache, identity=old.verifier.identity)
        self._state = self._prepare(policy, verifier, cache, settings or old.settings)
        LOGGER.info(
            "policy %s v%s active (was %s v%s)",
            policy.id,
            policy.version,
            old.policy.id,
            old.policy.version,
        )

    def install_file(self, path: Path | str) -> Policy:
        """Make the policy in a local file (JSON or YAML) active: the operator's decision, no
        admin check (SPEC §7). Raises :class:`~ocpp_e2e.errors.PolicyError` for a broken file,
        leaving the active policy as it was."""
        policy = load_policy(path)
        self.swap(policy)
        return policy

    def upgrade(self, candidate: bytes | str, *, now: datetime | None = None) -> UpgradeResult:
        """Judge a signed new version under the active policy (SPEC §7) and, when accepted, make
        it active. Never raises for a bad candidate: the result says why it was refused."""
        result = check_upgrade(self.policy, candidate, now=now or self.now())
        if result.accepted and result.policy is not None:
            self.swap(result.policy)
        return result

    # -- judging

    def now(self) -> datetime:
        """The time of receipt used for freshness and policy validity."""
        if isinstance(self.clock, TrustedClock):
            return self.clock.now()
        return self.clock()

    def check(
        self, frame: Frame, *, ocpp: str, station: str, call: PendingCall | None = None
    ) -> tuple[Verification, Decision]:
        """Verify and decide one frame synchronously (the verifier's own replay cache is asked in
        place). On an event loop use :meth:`decide`."""
        state = self._state
        now = self.now()
        checked = state.verifier.verify_frame(frame, ocpp=ocpp, station=station, call=call, now=now)
        return checked.verification, evaluate(state.policy, checked.verification, now=now)

    async def decide(
        self, frame: Frame, *, ocpp: str, station: str, call: PendingCall | None = None
    ) -> tuple[Verification, Decision]:
        """Verify and decide one frame; the replay cache is awaited within
        ``settings.replay_timeout`` (raises :class:`~ocpp_e2e.replay.ReplayCacheUnavailable`)."""
        return await self._decide(self._state, frame, ocpp=ocpp, station=station, call=call)

    async def _decide(
        self,
        state: _State,
        frame: Frame,
        *,
        ocpp: str,
        station: str,
        call: PendingCall | None,
        encrypted: bool = False,
    ) -> tuple[Verification, Decision]:
        now = self.now()
        cache = state.replay_cache
        if cache is None:
            checked = state.verifier.verify_frame(
                frame, ocpp=ocpp, station=station, call=call, now=now
            )
            verification = checked.verification
        else:
            deferred = _Deferred()
            verifier = copy.copy(state.verifier)
            verifier.replay_cache = deferred
            verification = verifier.verify_frame(
                frame, ocpp=ocpp, station=station, call=call, now=now
            ).verification
            if deferred.checks:
                verification = await self._replays(state, cache, verification, deferred, now)
        return verification, evaluate(state.policy, verification, now=now, encrypted=encrypted)

    async def _replays(
        self,
        state: _State,
        cache: Any,
        verification: Verification,
        deferred: _Deferred,
        now: datetime,
    ) -> Verification:
        seen: set[tuple[str, str]] = set()
        timeout = state.settings.replay_timeout
        asynchronous = getattr(cache, "check_and_add_async", None)
        for key_id, digest, expires in deferred.checks:
            try:
                if asynchronous is not None:
                    async with asyncio.timeout(timeout):
                        hit = await asynchronous(key_id, digest, expires, now)
                else:
                    hit = cache.check_and_add(key_id, digest, expires, now)
            except TimeoutError:
                raise ReplayCacheUnavailable(
                    f"replay cache unavailable: no answer within {timeout:g} s"
                ) from None
            except ReplayCacheUnavailable as exc:
                raise ReplayCacheUnavailable(f"replay cache unavailable: {exc}") from exc
            except Exception as exc:
                raise ReplayCacheUnavailable(
                    f"replay cache unavailable: {type(exc).__name__}"
                ) from exc
            if hit:
                seen.add((key_id, digest.hex()))
        if not seen:
            return verification
        results = tuple(
            sig._replace(
                outcome=Outcome.REPLAYED,
                reason=f"this signature of {sig.identity} was already seen "
                "(same key and signing input)",
            )
            if sig.outcome is Outcome.VALID and (sig.key_id, sig.input_digest) in seen
            else sig
            for sig in verification.signatures
        )
        return verification._replace(signatures=results)

    async def report(self, event: DecisionEvent) -> None:
        """Hand a decision to every hook (sync or async, each within ``settings.hook_timeout``);
        a failing or slow hook is logged and never affects the frame or the connection."""
        timeout = self._state.settings.hook_timeout
        for hook in self.hooks:
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    async with asyncio.timeout(timeout):
                        await result
            except TimeoutError:
                LOGGER.error("decision hook %r did not finish within %g s", hook, timeout)
            except Exception:
                LOGGER.exception("decision hook %r failed", hook)

    def connection(
        self, station: str, *, ocpp: str, side: str, signing: Signing | None = None
    ) -> GuardConnection:
        """The sans-IO state of one OCPP connection of ``station`` (its identity)."""
        return GuardConnection(self, station=station, ocpp=ocpp, side=side, signing=signing)


# --------------------------------------------------------------------------- one connection


@dataclass
class GuardConnection:
    """One OCPP connection (one station, one OCPP version), seen from ``side``.

    Feed it every frame in both directions: :meth:`receive` for frames from the peer,
    :meth:`send` for the application's own. It keeps the CALLs waiting for answers (SPEC §3); it
    does no I/O.
    """

    guard: Guard
    station: str
    ocpp: str
    side: str
    signing: Signing | None = None
    _tracker: CallTracker = field(init=False, repr=False)
    outgoing: Direction = field(init=False)

    def __post_init__(self) -> None:
        if self.side not in (CSMS, STATION):
            raise ConnectionSetupError(f"side must be {CSMS!r} or {STATION!r}, not {self.side!r}")
        self.signing = self.signing or Signing()
        self._tracker = CallTracker(self.guard.settings.max_pending_calls)
        self.outgoing = Direction.TO_STATION if self.side == CSMS else Direction.TO_CSMS

    @property
    def incoming(self) -> Direction:
        return self.outgoing.reverse

    # -- outgoing

    async def send(self, message: str) -> str:
        """The text to send for one frame of the application.

        Signed by every :class:`~ocpp_e2e.guard.signing.SignRule` that applies, else exactly as
        written. When signing a CALL fails, raises :class:`~ocpp_e2e.errors.SigningError` (the
        application's call fails); when signing an answer fails, the CALL is answered with a
        CALLERROR ``InternalError`` instead, so the peer is not left waiting.
        """
        assert self.signing is not None
        frame = _read_outgoing(message, self.ocpp)
        if frame is None:
            return message  # not a frame we can read: the application's business
        if frame.is_call:
            # A CALL is remembered as sent, with its signatures: SPEC §3 R binds the first one.
            text = await self._sign_call(frame)
            self._observe(
                frame if text is None else parse_frame(text, ocpp=self.ocpp), self.outgoing
            )
            return message if text is None else text
        pending = self._observe(frame, self.outgoing)
        action = pending.action if pending else None
        if action is None:
            return message
        kind = frame_kind(frame)
        if not self.signing.applies(action, kind):
            return message
        assert pending is not None
        if pending.request is None:
            LOGGER.warning(
                "%s: the %s %s goes out unsigned: the CALL it answers has no canonical form",
                self.station,
                action,
                kind,
            )
            return message
        settings = self.guard.settings
        try:
            signed = await self.signing.sign_async(
                frame,
                ocpp=self.ocpp,
                station=self.station,
                action=action,
                call=pending,
                timestamp=self.guard.now(),
                timeout=settings.sign_timeout,
            )
        except SigningError as exc:
            LOGGER.error("%s: signing the %s %s failed: %s", self.station, action, kind, exc)
            return await self._internal_error_answer(frame, pending, action)
        except InputError as exc:  # e.g. an integer beyond ±(2^53−1): SPEC §2 signs none
            LOGGER.error("%s: the %s %s cannot be signed: %s", self.station, action, kind, exc)
            return await self._internal_error_answer(frame, pending, action)
        return signed if signed is not None else message

    async def _sign_call(self, frame: Frame) -> str | None:
        assert self.signing is not None and frame.action is not None
        if not self.signing.applies(frame.action, frame_kind(frame)):
            return None
        try:
            return await self.signing.sign_async(
                frame,
                ocpp=self.ocpp,
                station=self.station,
                action=frame.action,
                call=None,
                timestamp=self.guard.now(),
                timeout=self.guard.settings.sign_timeout,
            )
        except InputError as exc:  # e.g. an integer beyond ±(2^53−1): SPEC §2 signs none
            raise SigningError(f"{frame.action} cannot be signed: {exc}") from exc

    async def _internal_error_answer(
        self, frame: Frame, pending: PendingCall | None, action: str
    ) -> str:
        text = dumps_frame(
            call_error(frame.message_id, "InternalError", "the answer could not be signed")
        )
        if frame.type is MessageType.CALLERROR or pending is None:
            return text
        assert self.signing is not None
        error_frame = parse_frame(text, ocpp=self.ocpp)
        try:
            signed = await self.signing.sign_async(
                error_frame,
                ocpp=self.ocpp,
                station=self.station,
                action=action,
                call=pending,
                timestamp=self.guard.now(),
                timeout=self.guard.settings.sign_timeout,
            )
        except (SigningError, InputError):
            return text  # unsigned: the peer's policy decides; at least it is not left waiting
        return signed if signed is not None else text

    # -- incoming

    async def receive(self, data: str | bytes, *, encrypted: bool = False) -> Action:
        """Judge one frame received from the peer and say what to do with it (never raises).

        ``encrypted``: the frame is the inner frame of an ESP envelope the peer encrypted to us
        (docs/esp.md), a fact the policy can match on (``match.encrypted``).
        """
        state = self.guard._state
        progress = _Progress()
        try:
            return await self._receive(state, data, progress, encrypted)
        except Exception as exc:  # one frame never ends the connection
            if isinstance(exc, ReplayCacheUnavailable):
                reason, failure = str(exc), "replay-cache-unavailable"
                LOGGER.error("%s: %s", self.station, reason)
            else:
                reason, failure = f"internal error ({type(exc).__name__})", "internal-error"
                LOGGER.exception("%s: internal error while judging a frame", self.station)
            return await self._failed(
                state, data, reason, failure, "InternalError", progress.frame, progress.pending
            )

    async def _receive(
        self, state: _State, data: str | bytes, progress: _Progress, encrypted: bool = False
    ) -> Action:
        size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
        limit = max(state.settings.max_unsigned_bytes, MAX_BYTES)
        if size > limit:
            reason = f"frame refused: {size} bytes, more than the limit of {limit} bytes"
            return await self._failed(state, data, reason, "oversized", "SecurityError")
        try:
            frame = parse_frame(data, ocpp=self.ocpp)
        except InputError as strict:
            try:
                frame = _read_unsigned(data, self.ocpp, strict, state.settings.max_unsigned_bytes)
            except InputError as exc:
                failure = "oversized" if size > MAX_BYTES else "unreadable"
                return await self._failed(
                    state, data, f"frame refused: {exc}", failure, "SecurityError"
                )
        if size > state.settings.max_unsigned_bytes and not _carries_signatures(frame):
            limit = state.settings.max_unsigned_bytes
            reason = (
                f"frame refused: {size} bytes without signatures, more than the limit of {limit} "
                "bytes"
            )
            return await self._failed(state, data, reason, "oversized", "SecurityError", frame)
        progress.frame = frame
        pending = progress.pending = self._observe(frame, self.incoming)
        try:
            verification, decision = await self.guard._decide(
                state,
                frame,
                ocpp=self.ocpp,
                station=self.station,
                call=pending,
                encrypted=encrypted,
            )
        except InputError as exc:  # beyond a SPEC §2 limit (e.g. 17 signatures): no verdict
            return await self._failed(
                state, data, f"frame refused: {exc}", "unreadable", "SecurityError", frame, pending
            )
        kind = frame_kind(frame)
        action = frame.action if frame.is_call else (pending.action if pending else None)
        blocked = not decision.allowed
        event = DecisionEvent(
            self.station,
            self.incoming,
            frame.message_id,
            action,
            kind,
            verification,
            decision,
            blocked,
        )
        await self.guard.report(event)
        if decision.would_deny:
            LOGGER.warning(
                "%s: audit mode, would deny %s: %s", self.station, action, decision.summary()
            )
        if blocked:
            LOGGER.warning("%s: refused %s %s: %s", self.station, action, kind, decision.summary())
            if frame.is_call:
                details = {"rule": decision.rule, "policy": decision.policy_id}
                error = security_error(frame.message_id, decision.reason, details)
                return Answer(dumps_frame(error), frame.message_id, decision.reason, event)
            if pending is not None:
                refused = ResponseRefused(pending.action, decision, verification)
                return self._refuse_response(frame.message_id, pending.action, refused, event)
            return Drop(f"refused answer to no pending CALL: {decision.reason}", event)
        if (
            self.side == STATION
            and isinstance(self.guard.clock, TrustedClock)
            and frame.type is MessageType.CALLRESULT
            and isinstance(verification.payload, dict)
        ):
            current = verification.payload.get("currentTime")
            if current is not None:
                self.guard.clock.update(current, verification, decision)
        message = data if verification.carrier is None else _without_signatures(frame)
        return Deliver(data, message, frame, event)

    def _observe(self, frame: Frame, direction: Direction) -> PendingCall | None:
        try:
            return self._tracker.observe(frame, self.station, direction)
        except InputError as exc:  # the CALL cannot be canonicalized (SPEC §2 exact reading)
            LOGGER.warning("%s: answer %s not paired: %s", self.station, frame.message_id, exc)
            return None

    def _refuse_response(
        self, message_id: str, action: str, error: RefusedError, event: DecisionEvent
    ) -> RefuseResponse:
        stand_in = dumps_frame(security_error(message_id, str(error)[:255]))
        return RefuseResponse(message_id, action, error, stand_in, event)

    async def _failed(
        self,
        state: _State,
        data: str | bytes,
        reason: str,
        failure: str,
        code: str,
        frame: Frame | None = None,
        pending: PendingCall | None = None,
    ) -> Action:
        """A frame that could not be judged: refused (or, in ``mode: audit``, passed) with a
        reason; every such frame is reported to the hooks too."""
        mtype, message_id, action = (
            _peek(data)
            if frame is None
            else (
                int(frame.type),
                frame.message_id,
                frame.action,
            )
        )
        kind = _KIND_OF.get(mtype) if mtype is not None else None
        if frame is None and message_id is not None and mtype in _ANSWERS:
            stand = _stand_in(message_id, self.ocpp)
            pending = self._observe(stand, self.incoming) if stand is not None else None
        if pending is not None:
            action = pending.action
        ctx: dict[str, Any] = {"ocpp": self.ocpp, "station": normalize_station(self.station)}
        if action is not None:
            ctx["action"] = action
        if kind is not None:
            ctx["kind"] = kind.value
        verification = Verification(ctx, None, ())
        policy = state.policy
        decision = refusal_decision(policy, verification, now=self.guard.now(), reason=reason)
        blocked = not decision.allowed
        event = DecisionEvent(
            self.station,
            self.incoming,
            message_id or "",
            action,
            kind,
            verification,
            decision,
            blocked,
            failure,
        )
        try:
            await self.guard.report(event)
        except Exception:  # report() already isolates hooks; this is belt and braces
            LOGGER.exception("%s: reporting a refusal failed", self.station)
        LOGGER.warning("%s: %s", self.station, reason)
        if not blocked and _json_readable(data):
            # mode: audit never blocks: the stack gets the frame as received
            return Deliver(data, data, frame, event)
        if message_id is None:
            return Drop(reason, event)
        if mtype == MessageType.CALL or mtype == MessageType.SEND:
            if mtype == MessageType.SEND:  # SEND is never answered (OCPP 2.1)
                return Drop(reason, event)
            description = reason if code == "SecurityError" else reason.split(":")[0]
            answer = call_error(message_id, code, description[:255], {"reason": description})
            return Answer(dumps_frame(answer), message_id, description, event)
        if pending is not None and mtype in _ANSWERS:
            error: RefusedError
            if failure in ("unreadable", "oversized"):
                error = ResponseUnreadable(pending.action, InputError(reason))
            else:
                error = ResponseFailed(pending.action, reason)
            return self._refuse_response(message_id, pending.action, error, event)
        return Drop(reason, event)


# --------------------------------------------------------------------------- helpers


@dataclass
class _Progress:
    """How far judging one frame got (for the answer when it fails half way)."""

    frame: Frame | None = None
    pending: PendingCall | None = None


_KIND_OF: Mapping[int, Kind] = {
    int(MessageType.CALL): Kind.REQUEST,
    int(MessageType.SEND): Kind.SEND,
    int(MessageType.CALLRESULT): Kind.RESPONSE,
    int(MessageType.CALLERROR): Kind.ERROR,
    int(MessageType.CALLRESULTERROR): Kind.RESULT_ERROR,
}
_ANSWERS = frozenset({int(MessageType.CALLRESULT), int(MessageType.CALLERROR)})


def _json_readable(data: str | bytes) -> bool:
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True


def _peek(data: str | bytes) -> tuple[int | None, str | None, str | None]:
    """(message type, message id, action) of a frame that failed the readers, where the lenient
    standard library can still tell them; Nones where it cannot."""
    try:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        value = json.loads(text)
    except (ValueError, RecursionError):  # nesting too deep for the standard library too
        return None, None, None
    if not (isinstance(value, list) and len(value) >= 2 and type(value[0]) is int):
        return None, None, None
    mtype, message_id = value[0], value[1]
    if not (isinstance(message_id, str) and 0 < len(message_id) <= MAX_MESSAGE_ID):
        return mtype, None, None
    action = value[2] if len(value) > 2 and mtype in (2, 6) and isinstance(value[2], str) else None
    return mtype, message_id, action if action and len(action) <= 64 else None


def _stand_in(message_id: str, ocpp: str) -> Frame | None:
    try:
        return parse_frame(dumps_frame(call_error(message_id, "SecurityError", "")), ocpp=ocpp)
    except InputError:
        return None


def _read_outgoing(message: str, ocpp: str) -> Frame | None:
    try:
        return parse_frame(message, ocpp=ocpp)
    except InputError:
        pass
    try:
        return parse_frame(read_exact(message, max_bytes=None), ocpp=ocpp)
    except InputError:
        return None


def _read_unsigned(data: str | bytes, ocpp: str, strict: InputError, max_bytes: int) -> Frame:
    """SPEC §2: a frame the strict reader refused may still be a frame *without signatures*, read
    exactly (integers of any size, exact decimals, a size up to ``max_bytes``). A frame with
    signatures gets the strict reader's verdict."""
    value = read_exact(data, max_bytes=max_bytes)
    frame = parse_frame(value, ocpp=ocpp)
    if _carries_signatures(frame):
        raise strict
    return frame


def _carries_signatures(frame: Frame) -> bool:
    carrier = frame.error_details if frame.error_details is not None else frame.payload
    where, sigs, problems = find_signatures(carrier)
    return where is not None or bool(problems) or sigs is not None


def _without_signatures(frame: Frame) -> str:
    value = list(frame.value)
    payload = frame_signing_payload(frame)
    if frame.type in (MessageType.CALL, MessageType.SEND):
        value[3] = payload
    elif frame.type is MessageType.CALLRESULT:
        value[2] = payload
    else:
        value[4] = payload["errorDetails"]
    return dumps_frame(value)


__all__ = [
    "CSMS",
    "STATION",
    "Action",
    "Answer",
    "DecisionEvent",
    "DecisionHook",
    "Deliver",
    "Drop",
    "Guard",
    "GuardConnection",
    "GuardSettings",
    "RefuseResponse",
    "ResponseFailed",
    "ResponseRefused",
    "ResponseUnreadable",
]
