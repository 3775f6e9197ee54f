"""What the gateway does with one frame, built on the sans-IO :class:`~ocpp_e2e.guard.Guard`.

Each station group has one :class:`~ocpp_e2e.guard.Guard` per direction (its policy, verifier,
replay cache and bounds) and the sign-on-behalf rules per direction. A station connection holds two
:class:`~ocpp_e2e.guard.GuardConnection`\\ s, one per direction:

* ``toCSMS`` (the gateway seen as the CSMS): judges what the station sends, and signs and tracks
  what goes on to the station;
* ``toStation`` (the gateway seen as the station): judges what the CSMS sends, and signs and tracks
  what goes on to the CSMS.

So a frame received travelling in one direction is judged by that direction's connection
(``receive``) and then handed to the other one (``send``), which signs it on behalf where a rule
says so and remembers CALLs, so that their answers coming back can be paired (SPEC §3).

A direction without a policy is relayed unjudged (its guard holds a pass-through policy in
``mode: audit`` that is never asked); frames of a connection where nothing is judged or signed are
not even parsed. On reload the guards swap their policies atomically (``Guard.swap``): connections
keep their call tracking and use the new rules from their next frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from ..context import find_signatures, frame_kind
from ..errors import OcppE2EError, SigningError
from ..frames import Frame, call_error, dumps_frame, security_error
from ..guard import (
    CSMS,
    STATION,
    Answer,
    DecisionEvent,
    Deliver,
    Drop,
    Guard,
    GuardConnection,
    GuardSettings,
    RefuseResponse,
    Signing,
    SignRule,
)
from ..integrations.clock import system_clock  # the gateway process is an edge
from ..keys import Signer, load_signer
from ..model import Direction, Verification
from ..pki.validate import pem_chain_der
from ..policy import Decision, Policy, check_upgrade, load_policy
from .config import GatewayConfig, SignOnBehalf, config_problem

LOGGER = logging.getLogger("ocpp_e2e.gateway")

#: The policy of a direction that no policy checks: never asked (frames are not judged), it only
#: lets the direction's guard sign and track frames.
PASS_THROUGH = Policy.from_dict(
    {
        "type": "SignaturePolicy",
        "id": "gateway-pass-through",
        "version": 1,
        "mode": "audit",
        "default": "permit",
        "rules": [],
    }
)


class RelaySigning(Signing):
    """Signing on behalf as a relay does it: a frame that already carries signatures gets
    *chained* ones (SPEC §3: they endorse the earlier signatures); an unsigned frame gets a plain
    first signature, and every further one of the same frame is chained to it."""

    async def sign_async(
        self,
        frame: Frame,
        *,
        ocpp: str,
        station: str,
        action: str,
        call: Any,
        timestamp: datetime,
        timeout: float,
    ) -> str | None:
        carrier = frame.error_details if frame.error_details is not None else frame.payload
        _where, existing, _problems = find_signatures(carrier)
        rules: list[SignRule] = []
        for rule in self.rules:
            if rule.signers and rule.applies(action, frame_kind(frame)):
                rules.append(replace(rule, chained=bool(existing) or bool(rules)))
        if not rules:
            return None
        return await Signing(rules).sign_async(
            frame,
            ocpp=ocpp,
            station=station,
            action=action,
            call=call,
            timestamp=timestamp,
            timeout=timeout,
        )


@dataclass
class DirectionRules:
    """One group's guard for one direction, whether a policy checks it, and who signs on behalf
    of whom for frames going that way."""

    guard: Guard
    checked: bool
    signing: RelaySigning = field(default_factory=RelaySigning)
    source: Path | None = None

    @property
    def active(self) -> bool:
        return self.checked or bool(self.signing.rules)


@dataclass
class RuleSet:
    """Everything the gateway enforces, per group name and direction."""

    groups: dict[str, dict[Direction, DirectionRules]]
    loaded: datetime = field(default_factory=system_clock)

    def rules(self, group: str, direction: Direction) -> DirectionRules:
        return self.groups[group][direction]

    def describe(self) -> list[dict[str, Any]]:
        """The policies in force (for /healthz, logs and ``--check``)."""
        out = []
        for group, directions in sorted(self.groups.items()):
            for direction, rules in sorted(directions.items()):
                if rules.checked:
                    policy = rules.guard.policy
                    out.append(
                        {
                            "group": group,
                            "direction": direction.value,
                            "policy": policy.id,
                            "version": policy.version,
                            "mode": policy.mode.value,
                        }
                    )
        return out


def _signers(config: GatewayConfig, rules: Sequence[SignOnBehalf]) -> RelaySigning:
    out = []
    for rule in rules:
        try:
            chain = (
                pem_chain_der(rule.certificates.read_bytes())
                if rule.certificates is not None
                else ()
            )
            signer: Signer = load_signer(rule.signer, certificates=chain)
        except (OcppE2EError, OSError, ValueError) as exc:
            raise config_problem(config, rule.place, f"cannot load the signer: {exc}") from None
        out.append(
            SignRule([signer], actions=rule.actions, kinds=rule.kinds, destination=rule.destination)
        )
    return RelaySigning(out)


def build_rules(
    config: GatewayConfig,
    replay_cache: Any,
    *,
    settings: GuardSettings | None = None,
    previous: RuleSet | None = None,
) -> RuleSet:
    """Load every policy and signer the configuration names; errors name the file and place.

    With ``previous`` (a reload), the guards of groups that stay are kept and swap their policies,
    so that open connections pick the new ones up; nothing changes unless everything loaded.
    """
    settings = settings or GuardSettings(
        max_unsigned_bytes=config.max_frame_bytes, max_pending_calls=config.pending_calls
    )
    loaded: dict[str, dict[Direction, tuple[Policy | None, Path | None, RelaySigning]]] = {}
    for group in config.groups:
        per: dict[Direction, tuple[Policy | None, Path | None, RelaySigning]] = {}
        for direction in Direction:
            path = group.policies.get(direction)
            policy = None
            if path is not None:
                try:
                    policy = load_policy(path)
                except OcppE2EError as exc:
                    raise config_problem(
                        config, f"{group.place}.policies.{direction.value}", str(exc)
                    ) from None
            signing = _signers(config, [r for r in group.sign if r.direction is direction])
            per[direction] = (policy, path, signing)
        loaded[group.name] = per
    if previous is not None:
        _check_upgrades(config, loaded, previous)
    groups: dict[str, dict[Direction, DirectionRules]] = {}
    for name, per in loaded.items():
        groups[name] = {}
        for direction, (policy, path, signing) in per.items():
            active = policy if policy is not None else PASS_THROUGH
            old = previous.groups.get(name, {}).get(direction) if previous is not None else None
            if old is not None:
                old.guard.swap(active, settings=settings, replay_cache=replay_cache)
                guard = old.guard
            else:
                guard = Guard(
                    active,
                    active.verifier(replay_cache=None),
                    replay_cache=replay_cache,
                    clock=system_clock,
                    settings=settings,
                )
            groups[name][direction] = DirectionRules(guard, policy is not None, signing, path)
    return RuleSet(groups)


def _check_upgrades(
    config: GatewayConfig,
    loaded: dict[str, dict[Direction, tuple[Policy | None, Path | None, RelaySigning]]],
    previous: RuleSet,
) -> None:
    """SPEC §7 on reload: where the policy in force names ``admins``, a new version in its file
    must be a signed upgrade those admins approved (``check_upgrade`` against the installed
    version); the same version again is left as it is. Without ``admins`` the local file is what
    the operator installs. Any refusal fails the whole reload (the rules in force stay)."""
    for group in config.groups:
        for direction, (policy, path, _signing) in loaded[group.name].items():
            old = previous.groups.get(group.name, {}).get(direction)
            if old is None or not old.checked or old.guard.policy.admins is None:
                continue
            installed = old.guard.policy
            place = f"{group.place}.policies.{direction.value}"
            if policy is None or path is None:
                raise config_problem(
                    config, place, f"policy {installed.id!r} names admins: it cannot be removed "
                    "by a reload, only replaced by a signed new version",
                )  # fmt: skip
            if policy.id == installed.id and policy.version == installed.version:
                loaded[group.name][direction] = (installed, path, _signing)
                continue
            result = check_upgrade(installed, path.read_bytes(), now=system_clock())
            if not result.accepted:
                raise config_problem(
                    config, place, f"the new version is refused (signed upgrade): {result.reason}"
                )


class Outcome(NamedTuple):
    """What to do with one received frame.

    ``forward`` goes on to the receiver (None: nothing goes on); ``answer`` goes back to the sender
    (a CALLERROR); ``record`` is the ``gateway`` member of the frame's log line. ``verify_seconds``
    is the time spent judging (0 when nothing was judged).
    """

    forward: str | None
    answer: str | None
    record: dict[str, Any]
    decision: Decision | None = None
    verify_seconds: float = 0.0


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


def _record(event: DecisionEvent) -> dict[str, Any]:
    decision = event.decision
    record: dict[str, Any] = {
        "effect": decision.effect.value,
        "mode": decision.mode.value,
        "rule": decision.rule,
        "reason": decision.reason,
        "policy": {"id": decision.policy_id, "version": decision.policy_version},
        "signers": [s.identity for s in decision.signers],
        "signatures": signature_verdicts(event.verification),
    }
    if event.failure is not None:
        record["failure"] = event.failure
    return record


def _with_verdicts(answer: str, record: dict[str, Any]) -> str:
    """The guard's CALLERROR with each signature's verdict added to its details."""
    if not record.get("signatures"):
        return answer
    value = orjson.loads(answer)
    if isinstance(value, list) and len(value) == 5 and isinstance(value[4], dict):
        value[4]["signatures"] = record["signatures"]
        return dumps_frame(value)
    return answer


def _message_id(text: str) -> str | None:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, list) and len(value) > 1 and isinstance(value[1], str):
        return value[1]
    return None


class StationGuard:
    """Enforcement on one station's connection (both directions)."""

    def __init__(
        self,
        station: str,
        ocpp: str,
        group: str,
        rule_set: Callable[[], RuleSet],
    ) -> None:
        self.station = station
        self.ocpp = ocpp
        self.group = group
        self._rule_set = rule_set
        rules = rule_set()
        # The connection judging frames that travel toCSMS is the gateway seen as the CSMS.
        self._conns: Mapping[Direction, GuardConnection] = {
            Direction.TO_CSMS: rules.rules(group, Direction.TO_CSMS).guard.connection(
                station, ocpp=ocpp, side=CSMS
            ),
            Direction.TO_STATION: rules.rules(group, Direction.TO_STATION).guard.connection(
                station, ocpp=ocpp, side=STATION
            ),
        }

    async def handle(self, direction: Direction, text: str) -> Outcome:
        """Decide on one frame received travelling in ``direction``."""
        rule_set = self._rule_set()
        here = rule_set.rules(self.group, direction)
        there = rule_set.rules(self.group, direction.reverse)
        if not (here.active or there.checked):
            return Outcome(text, None, {"action": "forwarded"})
        record: dict[str, Any] = {}
        decision: Decision | None = None
        verify_seconds = 0.0
        data = text
        if here.checked:
            started = time.perf_counter()
            action = await self._conns[direction].receive(text)
            verify_seconds = time.perf_counter() - started
            decision = action.event.decision
            record = _record(action.event)
            if isinstance(action, Answer):
                answer = _with_verdicts(action.frame, record)
                record.update(action="refused", answer=answer)
                return Outcome(None, answer, record, decision, verify_seconds)
            if isinstance(action, RefuseResponse):
                # the caller gets a CALLERROR in place of the refused answer
                details: dict[str, Any] = {"rule": decision.rule, "policy": decision.policy_id}
                if record["signatures"]:
                    details["signatures"] = record["signatures"]
                replacement = dumps_frame(
                    security_error(
                        action.message_id,
                        f"response refused by the gateway: {decision.reason}",
                        details,
                    )
                )
                record.update(action="replaced", sent=replacement)
                return Outcome(replacement, None, record, decision, verify_seconds)
            if isinstance(action, Drop):
                record.update(action="dropped")
                return Outcome(None, None, record, decision, verify_seconds)
            assert isinstance(action, Deliver)
            data = action.data if isinstance(action.data, str) else action.data.decode("utf-8")
        if not (there.checked or here.signing.rules):
            record["action"] = "forwarded"
            return Outcome(data, None, record, decision, verify_seconds)
        # Frames going on in `direction` are the outgoing frames of the other connection: it
        # signs them on behalf where a rule says so and remembers CALLs for their answers.
        sender = self._conns[direction.reverse]
        sender.signing = here.signing
        try:
            sent = await sender.send(data)
        except SigningError as exc:  # a CALL that could not be signed: its sender is told
            LOGGER.error("%s: signing on behalf failed: %s", self.station, exc)
            reason = f"the gateway could not sign the frame: {exc}"
            message_id = _message_id(data) or ""
            answer = internal_error(message_id, reason)
            record.update(effect="error", reason=reason, action="refused", answer=answer)
            return Outcome(None, answer, record, decision, verify_seconds)
        if sent == data:
            record["action"] = "forwarded"
        else:
            record.update(action="signed", sent=sent)
        return Outcome(sent, None, record, decision, verify_seconds)


__all__ = [
    "PASS_THROUGH",
    "DirectionRules",
    "Outcome",
    "RelaySigning",
    "RuleSet",
    "StationGuard",
    "build_rules",
    "internal_error",
    "signature_verdicts",
]
