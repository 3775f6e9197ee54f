"""The audit of one connection's frames: pairing, verification, policy decision, findings.

:class:`FrameAuditor` keeps the state an audit needs per station (pending CALLs, recently answered
CALLs, the replay cache, meter transactions) and turns each :class:`~ocpp_e2e.audit.logs.LogRecord`
into a :class:`FrameResult`. Frames of one station must be given in capture order; stations are
independent, which is what lets :mod:`ocpp_e2e.audit.run` spread them over processes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from ..context import CallTracker, PendingCall, frame_context, frame_kind, normalize_station
from ..errors import InputError
from ..frames import Frame, MessageType, parse_frame
from ..model import Direction, Outcome, SignatureResult, Verification
from ..verify import Verifier
from .findings import SEVERITY, Finding, FindingKind, Severity
from .logs import LogRecord, UnreadableLine
from .meters import MeterAudit, Place

#: How many answered CALLs per station are remembered to recognise a response moved from one
#: request to another (SPEC §3: a signed response is bound to its request's digest R).
RECENT_CALLS = 64
_CHARGING_STATION_USAGE = "chargingStation"
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


class FrameResult(NamedTuple):
    """What the audit keeps of one input item: enough for the summary, the chart and the report.

    ``verdict`` is ``permit-signed``, ``permit-unsigned``, ``deny`` or ``unread`` (the frame or the
    line could not be read); ``signers`` the identities of its valid trusted signatures.
    """

    seq: int
    minute: int | None
    station: str | None
    verdict: str
    signers: tuple[str, ...]
    findings: tuple[Finding, ...]


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


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
    ) -> None:
        self.verifier = verifier
        self.decide = decide
        self.probe = probe
        self.csms_identity = csms_identity
        self.meter = meter
        self._pairing = CallTracker()
        # Recent CALLs per station, kept as frames: their digest is computed only when probed.
        self._recent: dict[str, deque[Frame]] = {}

    def audit(self, seq: int, record: LogRecord) -> FrameResult:
        """Audit one captured frame and return its result with every finding."""
        station = normalize_station(record.station)
        now = record.ts
        minute = int(now.timestamp() // 60)
        try:
            frame = parse_frame(record.frame, ocpp=record.ocpp)
        except InputError as exc:
            return self._unread(seq, minute, station, record, None, str(exc))
        call = self._pairing.observe(frame, station, record.direction)
        ftype = frame.type
        action = (
            frame.action
            if ftype is MessageType.CALL or ftype is MessageType.SEND
            else (call.action if call else None)
        )
        receiver = station if record.direction is Direction.TO_STATION else self.csms_identity
        try:
            checked = self.verifier.verify_frame(
                frame, ocpp=record.ocpp, station=station, call=call, now=now, identity=receiver
            )
        except InputError as exc:
            return self._unread(seq, minute, station, record, (frame, action), str(exc))
        verification = checked.verification
        if ftype is MessageType.CALL:
            self._remember(station, frame)
        raw: list[tuple[FindingKind, str]] = []
        sigs = verification.signatures
        signers: tuple[str, ...] = ()
        if call is None and frame.is_response:
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
                record.source, record.line, _ts(now), station, record.direction.value,
                frame.message_id, action,
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
        """Findings known only at the end: meter transactions without an end reading."""
        return self.meter.finish() if self.meter is not None else []

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
        minute: int,
        station: str,
        record: LogRecord,
        parsed: tuple[Frame, str | None] | None,
        detail: str,
    ) -> FrameResult:
        message_id, action = (parsed[0].message_id, parsed[1]) if parsed else (None, None)
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

    def _remember(self, station: str, frame: Frame) -> None:
        recent = self._recent.get(station)
        if recent is None:
            recent = self._recent[station] = deque(maxlen=RECENT_CALLS)
        recent.append(frame)

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
            future = sig.timestamp is not None and sig.timestamp > _ts(record.ts)
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
        for earlier_frame in reversed(self._recent.get(station, ())):
            earlier = PendingCall.of(earlier_frame)
            if earlier.request == call.request:
                continue
            context = frame_context(record.ocpp, station, earlier.action, kind, earlier.request)
            result = self.probe.verify_object(frame.payload, context=context, now=record.ts)
            if any(s.index == sig.index and s.outcome in _VERIFIED for s in result.signatures):
                return earlier
        return None
