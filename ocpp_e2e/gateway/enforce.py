"""What the gateway does with one frame: verify, decide, sign on behalf, or refuse.

A :class:`RuleSet` holds, per station group and direction, the policy with its verifier and the
signers that sign on behalf; it is built from the configuration and replaced as a whole on reload
(connections keep their call tracking and pick the new set up at their next frame).

A :class:`StationGuard` runs for one station connection. :meth:`StationGuard.handle` takes a frame's
text and direction and returns an :class:`Outcome`: the text to forward (the received text itself,
byte for byte, unless the gateway signed it), the text to send back to the sender (a CALLERROR), and
the record the frame log keeps. Verification and signing run in worker threads (a replay cache
waiting for SQLite or Redis, or a slow signer, never stalls the event loop); any failure of theirs
fails closed for that one frame and the connection keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from .._time import utcnow
from ..context import CallTracker, PendingCall, find_signatures, frame_kind
from ..errors import InputError, OcppE2EError
from ..frames import Frame, MessageType, call_error, dumps_frame, parse_frame, security_error
from ..keys import Signer, load_signer
from ..model import Direction, Verification
from ..pki.validate import pem_chain_der
from ..policy import Decision, Mode, Policy, evaluate, load_policy
from ..replay import ReplayCache
from ..sign import sign_frame
from ..verify import Verifier
from .config import GatewayConfig, SignOnBehalf, config_problem

LOGGER = logging.getLogger("ocpp_e2e.gateway")


@dataclass(frozen=True)
class DirectionRules:
    """The policy (with its verifier) and the sign-on-behalf rules of one group and direction."""

    policy: Policy | None = None
    verifier: Verifier | None = None
    sign: tuple[tuple[SignOnBehalf, Signer], ...] = ()
    source: Path | None = None

    @property
    def active(self) -> bool:
        return self.policy is not None or bool(self.sign)


@dataclass(frozen=True)
class RuleSet:
    """Everything the gateway enforces, per group name and direction; replaced whole on reload."""

    groups: Mapping[str, Mapping[Direction, DirectionRules]]
    loaded: datetime = field(default_factory=utcnow)

    def rules(self, group: str, direction: Direction) -> DirectionRules:
        return self.groups.get(group, {}).get(direction, _NONE)

    def describe(self) -> list[dict[str, Any]]:
        """The policies in force (for /healthz and logs)."""
        out = []
        for group, directions in sorted(self.groups.items()):
            for direction, rules in sorted(directions.items()):
                if rules.policy is not None:
                    out.append(
                        {
                            "group": group,
                            "direction": direction.value,
                            "policy": rules.policy.id,
                            "version": rules.policy.version,
                            "mode": rules.policy.mode.value,
                        }
                    )
        return out


_NONE = DirectionRules()


def build_rules(
    config: GatewayConfig, replay_cache: ReplayCache, *, started: datetime | None = None
) -> RuleSet:
    """Load every policy and signer the configuration names; errors name the file and place.

    An enforcing policy whose replay cache forgets on restart (``memory``) gets a verifier that
    refuses signatures dated before ``started`` (SPEC §4).
    """
    started = started or utcnow()
    groups: dict[str, dict[Direction, DirectionRules]] = {}
    for group in config.groups:
        per: dict[Direction, DirectionRules] = {}
        for direction in Direction:
            policy = verifier = None
            path = group.policies.get(direction)
            if path is not None:
                try:
                    policy = load_policy(path)
                except OcppE2EError as exc:
                    raise config_problem(
                        config, f"{group.place}.policies.{direction.value}", str(exc)
                    ) from None
                verifier = policy.verifier(replay_cache=replay_cache)
                if policy.mode is Mode.ENFORCE and not getattr(
                    replay_cache, "survives_restart", False
                ):
                    verifier.not_before = started
            signers = []
            for rule in group.sign:
                if rule.direction is not direction:
                    continue
                try:
                    chain = (
                        pem_chain_der(rule.certificates.read_bytes())
                        if rule.certificates is not None
                        else ()
                    )
                    signer = load_signer(rule.signer, certificates=chain)
                except (OcppE2EError, OSError, ValueError) as exc:
                    raise config_problem(
                        config, rule.place, f"cannot load the signer: {exc}"
                    ) from None
                signers.append((rule, signer))
            per[direction] = DirectionRules(policy, verifier, tuple(signers), path)
        groups[group.name] = per
    return RuleSet(groups)


class Outcome(NamedTuple):
    """What to do with one received frame.

    ``forward`` goes on to the receiver (None: nothing goes on); ``answer`` goes back to the sender
    (a CALLERROR); ``record`` is the ``gateway`` member of the frame's log line. ``verify_seconds``
    is the time spent verifying and deciding (0 when nothing was checked).
    """

    forward: str | None
    answer: str | None
    record: dict[str, Any]
    decision: Decision | None = None
    verify_seconds: float = 0.0


def _peek_call(text: str) -> tuple[int, str] | None:
    """Message type and id of a frame the strict reader refused, when plain JSON can tell them."""
    try:
        value = orjson.loads(text)
    except (orjson.JSONDecodeError, RecursionError):
        return None
    if (
        isinstance(value, list)
        and len(value) >= 2
        and type(value[0]) is int
        and isinstance(value[1], str)
        and 0 < len(value[1]) <= 36
    ):
        return value[0], value[1]
    return None


def signature_verdicts(verification: Verification) -> list[dict[str, Any]]:
    """Each signature's SPEC §4 outcome, signer and reason: what a refusal's details and the log
    show, so that an operator sees *why* no rule applied (a replay, a tampered frame, ...)."""
    return [
        {"outcome": r.outcome.value, "signer": r.identity or r.key_id, "reason": r.reason}
        for r in verification.signatures
    ]


def internal_error(message_id: str, reason: str) -> str:
    """The CALLERROR a sender gets when the gateway cannot handle its CALL (``InternalError``)."""
    return dumps_frame(call_error(message_id, "InternalError", reason[:255], {"reason": reason}))


class StationGuard:
    """Enforcement on one station's connection (both directions)."""

    def __init__(
        self,
        station: str,
        ocpp: str,
        group: str,
        rule_set: Callable[[], RuleSet],
        *,
        pending_calls: int = 1024,
        max_frame_bytes: int = 1024 * 1024,
    ) -> None:
        self.station = station
        self.ocpp = ocpp
        self.group = group
        self._rule_set = rule_set
        self.tracker = CallTracker(limit=pending_calls)
        self.max_frame_bytes = max_frame_bytes

    def _needs_reading(self, rules: RuleSet, direction: Direction) -> bool:
        # A frame must be read when its own direction is checked or signed, or when the answers
        # coming back are (they need the CALL it carries: action and request digest R).
        return (
            rules.rules(self.group, direction).active
            or rules.rules(self.group, direction.reverse).active
        )

    async def handle(self, direction: Direction, text: str) -> Outcome:
        """Decide on one frame received travelling in ``direction``."""
        rule_set = self._rule_set()
        rules = rule_set.rules(self.group, direction)
        if not self._needs_reading(rule_set, direction):
            return Outcome(text, None, {"action": "forwarded"})
        if len(text) > self.max_frame_bytes and len(text.encode("utf-8")) > self.max_frame_bytes:
            return self._unreadable(rules, text, f"frame of more than {self.max_frame_bytes} bytes")
        try:
            frame = parse_frame(text, ocpp=self.ocpp)
        except InputError as exc:
            return self._unreadable(rules, text, str(exc))
        pending = self.tracker.observe(frame, self.station, direction)
        decision: Decision | None = None
        verify_seconds = 0.0
        record: dict[str, Any] = {}
        if rules.policy is not None and rules.verifier is not None:
            started = time.perf_counter()
            try:
                decided, verification = await asyncio.to_thread(
                    self._decide, rules.policy, rules.verifier, frame, pending
                )
            except InputError as exc:  # beyond a SPEC §2 limit the reader lets through
                return self._refuse(rules, frame, pending, direction, f"frame refused: {exc}", None)
            except Exception as exc:  # the replay cache, a bug: fail closed for this frame only
                LOGGER.exception("%s: checking a frame failed", self.station)
                reason = f"the gateway could not check the frame ({type(exc).__name__}: {exc})"
                return self._fail(rules, frame, direction, reason, text)
            verify_seconds = time.perf_counter() - started
            decision = decided
            record = {
                "effect": decided.effect.value,
                "mode": decided.mode.value,
                "rule": decided.rule,
                "reason": decided.reason,
                "policy": {"id": decided.policy_id, "version": decided.policy_version},
                "signers": [s.identity for s in decided.signers],
                "signatures": signature_verdicts(verification),
            }
            if not decided.allowed:
                return self._refuse(
                    rules, frame, pending, direction, decided.reason, decided, record,
                    verify_seconds,
                )  # fmt: skip
        signed = await self._sign(rules, frame, pending, direction)
        if isinstance(signed, Outcome):
            return signed._replace(decision=decision, verify_seconds=verify_seconds)
        if signed is None:
            record["action"] = "forwarded"
            return Outcome(text, None, record, decision, verify_seconds)
        record["action"] = "signed"
        record["sent"] = signed
        return Outcome(signed, None, record, decision, verify_seconds)

    def _decide(
        self, policy: Policy, verifier: Verifier, frame: Frame, pending: PendingCall | None
    ) -> tuple[Decision, Verification]:
        now = utcnow()
        checked = verifier.verify_frame(
            frame, ocpp=self.ocpp, station=self.station, call=pending, now=now
        )
        return evaluate(policy, checked.verification, now=now), checked.verification

    async def _sign(
        self, rules: DirectionRules, frame: Frame, pending: PendingCall | None, direction: Direction
    ) -> str | Outcome | None:
        if not rules.sign or frame.type is MessageType.CALLRESULTERROR:
            return None
        kind = frame_kind(frame)
        action = frame.action if frame.is_call else (pending.action if pending else None)
        if action is None:
            return None  # an answer to nothing we know: it cannot be bound (SPEC §3)
        chosen = [(r, s) for r, s in rules.sign if r.applies(action, kind)]
        if not chosen:
            return None
        try:
            text = await asyncio.to_thread(self._sign_now, frame, pending, chosen)
        except Exception as exc:  # an HSM timeout, a key that cannot sign this: fail closed
            LOGGER.exception("%s: signing %s failed", self.station, action)
            reason = f"the gateway could not sign the frame ({type(exc).__name__}: {exc})"
            return self._fail(rules, frame, direction, reason, None)
        if frame.type is MessageType.CALL:
            # The answer is bound to the CALL as its receiver sees it: with our signature first
            # when it had none (SPEC §3 R), so track the signed CALL.
            self.tracker.observe(parse_frame(text, ocpp=self.ocpp), self.station, direction)
        return text

    def _sign_now(
        self,
        frame: Frame,
        pending: PendingCall | None,
        chosen: list[tuple[SignOnBehalf, Signer]],
    ) -> str:
        current: Frame | str = frame
        for rule, signer in chosen:
            carrier = (
                current if isinstance(current, Frame) else parse_frame(current, ocpp=self.ocpp)
            )
            obj = carrier.error_details if carrier.error_details is not None else carrier.payload
            _where, sigs, _problems = find_signatures(obj)
            current = sign_frame(
                current,
                [signer],
                ocpp=self.ocpp,
                station=self.station,
                call=pending,
                destination=rule.destination,
                chained=bool(sigs),
            )
        assert isinstance(current, str)
        return current

    # -- refusals

    def _refuse(
        self,
        rules: DirectionRules,
        frame: Frame,
        pending: PendingCall | None,
        direction: Direction,
        reason: str,
        decision: Decision | None,
        record: dict[str, Any] | None = None,
        verify_seconds: float = 0.0,
    ) -> Outcome:
        record = dict(record or {"effect": "deny", "reason": reason})
        details: dict[str, Any] = {}
        if decision is not None:
            details = {"rule": decision.rule, "policy": decision.policy_id}
            if "signatures" in record:
                details["signatures"] = record["signatures"]
        if frame.is_call:
            answer = dumps_frame(security_error(frame.message_id, reason, details))
            self.tracker.observe(
                parse_frame(answer, ocpp=self.ocpp), self.station, direction.reverse
            )
            record.update(action="refused", answer=answer)
            return Outcome(None, answer, record, decision, verify_seconds)
        if frame.type is MessageType.CALLRESULTERROR or pending is None:
            record.update(action="dropped")
            return Outcome(None, None, record, decision, verify_seconds)
        # A refused answer: the caller gets a CALLERROR in its place.
        replacement = dumps_frame(
            security_error(frame.message_id, f"response refused by the gateway: {reason}", details)
        )
        record.update(action="replaced", sent=replacement)
        return Outcome(replacement, None, record, decision, verify_seconds)

    def _fail(
        self,
        rules: DirectionRules,
        frame: Frame,
        direction: Direction,
        reason: str,
        received: str | None,
    ) -> Outcome:
        """Checking (``received`` given) or signing failed: in audit mode a frame that could not
        be checked still passes; otherwise its CALL gets an ``InternalError``, its answer is
        replaced by one."""
        record: dict[str, Any] = {"effect": "error", "reason": reason}
        audit = rules.policy is not None and rules.policy.mode is Mode.AUDIT
        if received is not None and audit and not rules.sign:
            record["action"] = "forwarded"
            return Outcome(received, None, record)
        if frame.is_call:
            answer = internal_error(frame.message_id, reason)
            self.tracker.observe(
                parse_frame(answer, ocpp=self.ocpp), self.station, direction.reverse
            )
            record.update(action="refused", answer=answer)
            return Outcome(None, answer, record)
        replacement = internal_error(frame.message_id, reason)
        record.update(action="replaced", sent=replacement)
        return Outcome(replacement, None, record)

    def _unreadable(self, rules: DirectionRules, text: str, reason: str) -> Outcome:
        """A frame the SPEC §2 reader refused (or too big): never passed in enforce mode."""
        if rules.policy is None or rules.policy.mode is Mode.AUDIT:
            # Nothing checks this direction (it was read only to track CALLs), or audit mode.
            return Outcome(text, None, {"action": "forwarded", "unreadable": reason})
        record: dict[str, Any] = {"effect": "deny", "reason": f"frame refused: {reason}"}
        peek = _peek_call(text)
        if peek is not None and peek[0] == MessageType.CALL:
            answer = dumps_frame(security_error(peek[1], f"frame refused: {reason}"))
            record.update(action="refused", answer=answer)
            return Outcome(None, answer, record)
        if peek is not None and peek[0] in (MessageType.CALLRESULT, MessageType.CALLERROR):
            replacement = dumps_frame(
                security_error(peek[1], f"response refused by the gateway: {reason}")
            )
            record.update(action="replaced", sent=replacement)
            return Outcome(replacement, None, record)
        record["action"] = "dropped"
        return Outcome(None, None, record)
