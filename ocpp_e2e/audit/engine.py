"""The audit of one connection's frames: pairing, verification, policy decision, findings.

:class:`FrameAuditor` keeps the state an audit needs per station (pending CALLs, recently answered
CALLs, the replay cache, meter transactions) and turns each :class:`~ocpp_e2e.audit.logs.LogRecord`
into a :class:`FrameResult`. Frames of one station must be given in capture order; stations are
independent, which is what lets :mod:`ocpp_e2e.audit.run` spread them over processes.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from ..context import CallTracker, PendingCall, frame_context, frame_kind, normalize_station
from ..errors import InputError
from ..frames import Frame, MessageType, parse_frame
from ..model import Direction, Outcome, SignatureResult, Verification
from ..verify import Verifier
from .findings import SEVERITY, Finding, FindingKind, Severity
from .logs import LogRecord, UnreadableLine
from .meters import MeterAudit, Place

__all__ = [
    "OPEN_CALLS",
    "RECENT_CALLS",
    "UNANSWERED_GRACE",
    "AuditDecision",
    "AuditReplayCache",
    "Decide",
    "FrameAuditor",
    "FrameResult",
    "FrameRow",
    "frame_head",
    "unreadable_result",
]

#: How many answered CALLs per station are remembered to recognise a response moved from one
#: request to another (SPEC §3: a signed response is bound to its request's digest R).
RECENT_CALLS = 64
_CHARGING_STATION_USAGE = "chargingStation"
#: A CALL that has no answer after this much capture time of its station is ``unanswered-call``
#: (none is reported for the CALLs still within it when the log ends).
UNANSWERED_GRACE = timedelta(seconds=60)
#: Unanswered CALLs remembered per station and direction; an older one pushed out is reported.
OPEN_CALLS = 1024
# The type and message id at the start of a frame text, readable even when the rest is not.
_HEAD = re.compile(r'\s*\[\s*([2-6])\s*,\s*"((?:[^"\\\n]|\\.){1,128})"')
# Kinds whose detail already is the policy's reason for denying.
_SELF_EXPLAINING = frozenset(
    {FindingKind.DENIED, FindingKind.UNSIGNED_REQUIRED, FindingKind.INVALID}
)
# Outcomes decided after the signature value verified: the signed bytes are authentic.
_VERIFIED = frozenset({Outcome.VALID, Outcome.EXPIRED, Outcome.WRONG_DESTINATION, Outcome.REPLAYED})


class AuditDecision(NamedTuple):
    """The policy's decision on one frame, as the audit reports it.

    ``forbidden`` is true when a forbid rule (or an invalid signature of a known key) denied the
    frame, as opposed to no permit rule applying.
    """

    permitted: bool
    rule: str | None
    signers: tuple[str, ...]
    reason: str
    forbidden: bool = False


class Decide(Protocol):
    """Decides a verified frame at its capture time (an adapter over :mod:`ocpp_e2e.policy`)."""

    def __call__(self, verification: Verification, now: datetime) -> AuditDecision: ...


class FrameRow(NamedTuple):
    """One frame as the HTML report lists it: where, when, which way, what, and the line of the
    CALL a response answers (``pair``)."""

    file: str
    line: int
    ts: str | None
    direction: str
    action: str | None
    message_id: str | None
    pair: int | None


class FrameResult(NamedTuple):
    """What the audit keeps of one input item: enough for the summary, the chart and the report.

    ``verdict`` is ``permit-signed``, ``permit-unsigned``, ``deny`` or ``unread`` (the frame or the
    line could not be read); ``signers`` the identities of its valid trusted signatures; ``row``
    the frame for the report's traffic view (None for an unreadable line); ``ocpp`` the OCPP
    version the frame was read as.
    """

    seq: int
    minute: int | None
    station: str | None
    verdict: str
    signers: tuple[str, ...]
    findings: tuple[Finding, ...]
    row: FrameRow | None = None
    ocpp: str | None = None


def _ts(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def frame_head(text: str) -> tuple[int, str] | None:
    """The message type and id a frame text starts with, if they can be read.

    >>> frame_head('[3,"a1",{"status":')
    (3, 'a1')
    """
    m = _HEAD.match(text)
    if m is None:
        return None
    return int(m.group(1)), m.group(2)


class AuditReplayCache:
    """The replay cache of an audit: it never forgets a signature (SPEC §8).

    A live cache forgets entries once they expire, measured on a clock that only moves forward;
    the capture times of a log may not (merged logs, a clock stepped back), so an audit keeps
    every (key id, signing-input digest) it has seen. A signature seen again is a replay whatever
    the order of the capture times; one older than the freshness window is refused as stale
    before the cache is asked. Memory: one entry per distinct signature of the log, the digest
    behind a 4-byte number of its key id (about 110 bytes each; a (key id, digest) pair took 163).
    """

    survives_restart = False

    def __init__(self) -> None:
        self._seen: set[bytes] = set()
        self._key_ids: dict[str, bytes] = {}

    def check_and_add(
        self, key_id: str, input_digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        prefix = self._key_ids.get(key_id)
        if prefix is None:
            prefix = self._key_ids[key_id] = len(self._key_ids).to_bytes(4, "big")
        key = prefix + input_digest  # the prefix has a fixed width: no two pairs share a key
        if key in self._seen:
            return True
        self._seen.add(key)
        return False

    def __len__(self) -> int:
        return len(self._seen)


class _Open(NamedTuple):
    """A CALL waiting for its answer."""

    source: str
    line: int
    ts: datetime | None
    direction: Direction
    action: str | None


def unreadable_result(seq: int, item: UnreadableLine) -> FrameResult:
    """The result for a line that could not be read."""
    detail = item.reason if not item.text else f"{item.reason}: {item.text}"
    finding = Finding(
        FindingKind.UNREADABLE_LINE,
        SEVERITY[FindingKind.UNREADABLE_LINE],
        item.source,
        item.line,
        detail,
    )
    return FrameResult(seq, None, None, "unread", (), (finding,))


def _ago(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds:g} s"


def _head_id(text: str) -> str | None:
    head = frame_head(text)
    return head[1] if head is not None else None


class FrameAuditor:
    """Audits frames in capture order; one instance per worker, any number of stations.

    ``verifier`` must have a replay cache for replays to be found (SPEC §4: audits detect replays
    the same way as receivers); ``probe`` is the same verifier without a replay cache, used only to
    recognise responses moved to another request. ``csms_identity`` is the CSMS's id for
    ``destination`` checks of frames sent to the CSMS; ``meter`` checks the signed meter values
    (OCMF) of the requests that carry them.
    """

    def __init__(
        self,
        verifier: Verifier,
        decide: Decide,
        *,
        probe: Verifier | None = None,
        csms_identity: str | None = None,
        meter: MeterAudit | None = None,
        now: datetime,
        grace: timedelta = UNANSWERED_GRACE,
    ) -> None:
        self.verifier = verifier
        self.decide = decide
        self.probe = probe
        self.csms_identity = csms_identity
        self.meter = meter
        self._pairing = CallTracker()
        # Recent CALLs per station, kept as their PendingCall (id, action, R), never as parsed
        # frames: memory stays bounded whatever the frames' size.
        self._recent: dict[str, deque[PendingCall]] = {}
        # Frames without a capture time are decided at this time (freshness is not judged).
        self.clock = now
        self.grace = grace
        #: Whether results carry their :class:`FrameRow` (the report's traffic view); an audit
        #: that keeps no rows saves formatting a row for every frame.
        self.rows = True
        self._extra: list[Finding] = []
        self._info: tuple[str | None, str | None, int | None] = (None, None, None)
        self._last: dict[str, tuple[datetime, int]] = {}
        self._open: dict[tuple[str, Direction], OrderedDict[str, _Open]] = {}
        self._malformed_calls: dict[tuple[str, Direction], OrderedDict[str, None]] = {}

    def audit(self, seq: int, record: LogRecord) -> FrameResult:
        """Audit one captured frame and return its result with every finding (and those of
        earlier CALLs of its station that went unanswered)."""
        self._info = (None, None, None)
        result = self._audit(seq, record)
        if self.rows:
            result = result._replace(
                row=FrameRow(
                    record.source, record.line, _ts(record.ts), record.direction.value, *self._info
                ),
                ocpp=record.ocpp,
            )
        else:
            result = result._replace(ocpp=record.ocpp)
        if self._extra:
            result = result._replace(findings=result.findings + tuple(self._extra))
            self._extra = []
        return result

    def _audit(self, seq: int, record: LogRecord) -> FrameResult:
        station = normalize_station(record.station)
        self._extra = []
        captured = record.ts
        now = captured if captured is not None else self.clock
        minute = int(captured.timestamp() // 60) if captured is not None else None
        if captured is not None:
            self._clock_checks(station, record, captured)
        try:
            frame = parse_frame(record.frame, ocpp=record.ocpp)
        except InputError as exc:
            head = frame_head(record.frame)
            pair = None
            if head is not None:
                pair = self._settle_unreadable(station, record, *head)
                self._info = (None, head[1], pair)
            parsed = (None, head[1]) if head is not None else None
            return self._unread(seq, minute, station, record, parsed, str(exc))
        call = self._pairing.observe(frame, station, record.direction)
        answers_malformed = False
        pair = None
        if frame.type is MessageType.CALL:
            self._opened(station, record, frame)
        elif frame.type is MessageType.CALLRESULT or frame.type is MessageType.CALLERROR:
            pair = self._settled(station, record.direction.reverse, frame.message_id)
            if call is None:
                bad = self._malformed_calls.get((station, record.direction.reverse))
                answers_malformed = bad is not None and frame.message_id in bad
        ftype = frame.type
        action = (
            frame.action
            if ftype is MessageType.CALL or ftype is MessageType.SEND
            else (call.action if call else None)
        )
        self._info = (action, frame.message_id, pair)
        receiver = station if record.direction is Direction.TO_STATION else self.csms_identity
        try:
            checked = self.verifier.verify_frame(
                frame,
                ocpp=record.ocpp,
                station=station,
                call=call,
                now=now,
                identity=receiver,
                check_freshness=captured is not None,
            )
        except InputError as exc:
            return self._unread(seq, minute, station, record, (action, frame.message_id), str(exc))
        verification = checked.verification
        if ftype is MessageType.CALL:
            self._remember(station, record.direction, frame.message_id)
        raw: list[tuple[FindingKind, str]] = []
        sigs = verification.signatures
        signers: tuple[str, ...] = ()
        if call is None and frame.is_response and answers_malformed:
            pass  # it answers a CALL that could not be read, which has its own finding
        elif call is None and frame.is_response:
            raw.append(
                (FindingKind.RESPONSE_WITHOUT_CALL, self._no_call_detail(frame, verification))
            )
        elif len(sigs) == 1 and sigs[0].outcome is Outcome.VALID and not sigs[0].usages:
            # The common case, without the general loops: one valid signature of a keyring key.
            only = sigs[0]
            if only.trusted and only.key_id is not None and only.identity is not None:
                signers = (only.identity,)
        elif sigs:
            raw = self._signature_findings(frame, verification, station, record, call)
            signers = tuple(
                s.identity for s in verification.valid_signers if s.identity is not None
            )
        decision = self.decide(verification, now)
        if decision.permitted:
            verdict = "permit-signed" if decision.signers else "permit-unsigned"
        else:
            verdict = "deny"
            if not raw:
                unsigned = not verification.signatures and not decision.forbidden
                kind = FindingKind.UNSIGNED_REQUIRED if unsigned else FindingKind.DENIED
                raw.append((kind, decision.reason))
        metered: list[tuple[FindingKind, str]] = []
        meter = self.meter
        if (
            meter is not None
            and ftype is MessageType.CALL
            and meter.carries(frame, record.ocpp, record.frame)
        ):
            place = Place(
                record.source, record.line, _ts(captured) or "", station,
                record.direction.value, frame.message_id, action,
            )  # fmt: skip
            metered = meter.check(frame, record.ocpp, place)
        if not raw and not metered:
            return FrameResult(seq, minute, station, verdict, signers, ())
        base = self._base(record, station, frame.message_id, action)
        findings = self._findings(raw, base, decision) + self._findings(
            metered, base, decision, own=True
        )
        return FrameResult(seq, minute, station, verdict, signers, findings)

    def finish(self) -> list[Finding]:
        """Findings known only at the end: meter transactions without an end reading. (CALLs
        still unanswered when the log ends are not findings: their answer was not captured.)"""
        return self.meter.finish() if self.meter is not None else []

    # ------------------------------------------------------------------ pairing over time

    def _clock_checks(self, station: str, record: LogRecord, captured: datetime) -> None:
        last = self._last.get(station)
        if last is not None and captured < last[0]:
            kind = FindingKind.TIME_BACKWARDS
            self._extra.append(
                Finding(
                    kind,
                    SEVERITY[kind],
                    record.source,
                    record.line,
                    f"captured at {_ts(captured)}, {_ago(last[0] - captured)} before the "
                    f"previous frame of this station (line {last[1]}, {_ts(last[0])})",
                    ts=_ts(captured),
                    station=station,
                    direction=record.direction.value,
                    message_id=_head_id(record.frame),
                )
            )
        self._last[station] = (captured, record.line)
        for direction in (Direction.TO_CSMS, Direction.TO_STATION):
            waiting = self._open.get((station, direction))
            while waiting:
                message_id, first = next(iter(waiting.items()))
                if first.ts is None or captured - first.ts <= self.grace:
                    break
                del waiting[message_id]
                self._extra.append(self._unanswered(station, message_id, first, captured))

    def _unanswered(
        self, station: str, message_id: str, call: _Open, seen: datetime | None
    ) -> Finding:
        if seen is not None and call.ts is not None:
            detail = (
                f"no CALLRESULT or CALLERROR within {_ago(self.grace)}; the station's log "
                f"went on to {_ts(seen)}"
            )
        elif seen is None:
            detail = (
                "no answer before the same side sent its next CALL (OCPP-J: one CALL at a time)"
            )
        else:
            detail = f"no answer among the next {OPEN_CALLS} CALLs"
        kind = FindingKind.UNANSWERED_CALL
        return Finding(
            kind,
            SEVERITY[kind],
            call.source,
            call.line,
            detail,
            ts=_ts(call.ts),
            station=station,
            direction=call.direction.value,
            message_id=message_id,
            action=call.action,
        )

    def _opened(self, station: str, record: LogRecord, frame: Frame) -> None:
        key = (station, record.direction)
        waiting = self._open.get(key)
        if waiting is None:
            waiting = self._open[key] = OrderedDict()
        elif waiting and record.ts is None:
            # Without capture times: a side that sends its next CALL gave up on the earlier one.
            for message_id, call in list(waiting.items()):
                if call.ts is None:
                    del waiting[message_id]
                    self._extra.append(self._unanswered(station, message_id, call, None))
        waiting.pop(frame.message_id, None)
        waiting[frame.message_id] = _Open(
            record.source, record.line, record.ts, record.direction, frame.action
        )
        if len(waiting) > OPEN_CALLS:
            message_id, call = waiting.popitem(last=False)
            self._extra.append(self._unanswered(station, message_id, call, record.ts or self.clock))

    def _settled(self, station: str, direction: Direction, message_id: str) -> int | None:
        """Settle a waiting CALL; the line it was read at, when it was waiting."""
        waiting = self._open.get((station, direction))
        if waiting is not None:
            call = waiting.pop(message_id, None)
            if call is not None:
                return call.line
        return None

    def _settle_unreadable(
        self, station: str, record: LogRecord, mtype: int, message_id: str
    ) -> int | None:
        if mtype in (3, 4):
            return self._settled(station, record.direction.reverse, message_id)
        if mtype == 2:
            key = (station, record.direction)
            bad = self._malformed_calls.get(key)
            if bad is None:
                bad = self._malformed_calls[key] = OrderedDict()
            bad[message_id] = None
            if len(bad) > OPEN_CALLS:
                bad.popitem(last=False)
        return None

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _base(
        record: LogRecord, station: str, message_id: str | None, action: str | None
    ) -> dict[str, Any]:
        return {
            "file": record.source,
            "line": record.line,
            "ts": _ts(record.ts),
            "station": station,
            "direction": record.direction.value,
            "message_id": message_id,
            "action": action,
        }

    def _unread(
        self,
        seq: int,
        minute: int | None,
        station: str,
        record: LogRecord,
        parsed: tuple[str | None, str] | None,
        detail: str,
    ) -> FrameResult:
        action, message_id = parsed if parsed else (None, None)
        base = self._base(record, station, message_id, action)
        kind = FindingKind.MALFORMED
        finding = Finding(kind, SEVERITY[kind], detail=detail, **base)
        return FrameResult(seq, minute, station, "unread", (), (finding,))

    def _findings(
        self,
        raw: Iterable[tuple[FindingKind, str]],
        base: dict[str, Any],
        decision: AuditDecision,
        *,
        own: bool = False,
    ) -> tuple[Finding, ...]:
        # ``own``: meter findings are about the records, not the frame; they keep their severity
        # and do not carry the policy's denial (which has its own finding).
        out: list[Finding] = []
        seen: set[tuple[FindingKind, str]] = set()
        for kind, detail in raw:
            if (kind, detail) in seen:
                continue
            seen.add((kind, detail))
            severity = SEVERITY[kind]
            if not own and not decision.permitted:
                if severity is Severity.WARNING:
                    severity = Severity.ERROR
                if kind not in _SELF_EXPLAINING:
                    detail = f"{detail}; the policy denies the frame: {decision.reason}"
            out.append(
                Finding(
                    kind,
                    severity,
                    detail=detail,
                    decision="permit" if decision.permitted else "deny",
                    rule=decision.rule,
                    signers=decision.signers,
                    **base,
                )
            )
        return tuple(out)

    def _remember(self, station: str, direction: Direction, message_id: str) -> None:
        # The tracker computed the CALL's digest when it saw the CALL; a CALL whose R cannot be
        # computed cannot be the request a moved response answers.
        pending = self._pairing.waiting(station, direction, message_id)
        if pending is None:
            return
        recent = self._recent.get(station)
        if recent is None:
            recent = self._recent[station] = deque(maxlen=RECENT_CALLS)
        recent.append(pending)

    def _no_call_detail(self, frame: Frame, verification: Verification) -> str:
        detail = f"no pending CALL with id {frame.message_id!r} on this connection"
        if verification.signatures:
            detail += (
                f"; its {len(verification.signatures)} signature(s) cannot be checked (malformed)"
            )
        return detail

    def _signature_findings(
        self,
        frame: Frame,
        verification: Verification,
        station: str,
        record: LogRecord,
        call: PendingCall | None,
    ) -> list[tuple[FindingKind, str]]:
        out: list[tuple[FindingKind, str]] = []
        for sig in verification.signatures:
            finding = self._signature_finding(frame, sig, station, record, call, verification)
            if finding is not None:
                out.append(finding)
        return out

    def _signature_finding(
        self,
        frame: Frame,
        sig: SignatureResult,
        station: str,
        record: LogRecord,
        call: PendingCall | None,
        verification: Verification,
    ) -> tuple[FindingKind, str] | None:
        who = sig.identity or sig.key_id or f"signature {sig.index}"
        outcome = sig.outcome
        if outcome is Outcome.VALID:
            if (
                _CHARGING_STATION_USAGE in sig.usages
                and sig.identity is not None
                and normalize_station(sig.identity) != station
            ):
                return (
                    FindingKind.WRONG_STATION,
                    f"signed by station {sig.identity} on the connection of {station}",
                )
            return None
        if outcome is Outcome.INVALID:
            if frame.type is MessageType.CALLRESULT and call is not None:
                moved = self._moved_from(frame, sig, station, record, call)
                if moved is not None:
                    return FindingKind.RESPONSE_MOVED, (
                        f"the signature of {who} answers the earlier {moved.action} request "
                        f"{moved.message_id!r}, not this {call.action} request {call.message_id!r}"
                    )
            return FindingKind.INVALID, f"{who}: {sig.reason}"
        if outcome is Outcome.REPLAYED:
            return FindingKind.REPLAYED, f"{who}: {sig.reason}"
        if outcome is Outcome.EXPIRED:
            future = sig.timestamp is not None and sig.timestamp > (_ts(record.ts) or "")
            kind = FindingKind.FUTURE_TIMESTAMP if future else FindingKind.STALE_TIMESTAMP
            return kind, f"{who}: {sig.reason}"
        if outcome is Outcome.WRONG_DESTINATION:
            return FindingKind.WRONG_DESTINATION, f"{who}: {sig.reason}"
        if outcome in (Outcome.UNKNOWN_KEY, Outcome.UNTRUSTED_CERTIFICATE):
            return FindingKind.UNKNOWN_SIGNER, f"{who}: {sig.reason}"
        # malformed and unsupported-algorithm: the signature cannot be judged at all
        return FindingKind.MALFORMED, f"{who}: {sig.reason}"

    def _moved_from(
        self, frame: Frame, sig: SignatureResult, station: str, record: LogRecord, call: PendingCall
    ) -> PendingCall | None:
        if self.probe is None:
            return None
        kind = frame_kind(frame)
        for earlier in reversed(self._recent.get(station, ())):
            if earlier.request is None or earlier.request == call.request:
                continue
            context = frame_context(record.ocpp, station, earlier.action, kind, earlier.request)
            result = self.probe.verify_object(frame.payload, context=context, now=record.ts or self.clock)
            if any(s.index == sig.index and s.outcome in _VERIFIED for s in result.signatures):
                return earlier
        return None
