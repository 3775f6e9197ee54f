"""Running an audit over log files, in one process or spread over worker processes.

Stations are independent (pairing, replay keys and meter transactions are all per connection), so
``workers > 1`` sends each station's frames, in capture order, to one worker chosen by a hash of
the station identity, and merges the results back into input order: the findings and the summary
are identical to those of one worker.

>>> settings = AuditSettings(policy="policies/example.yaml")  # doctest: +SKIP
>>> report = audit_logs(["day.jsonl.gz"], ReadOptions(), settings, workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any

from ..context import normalize_station
from ..errors import InputError, OcppE2EError
from ..model import Verification
from ..policy import Decision, Effect, RuleEffect, evaluate, load_policy
from ..policy.document import Policy
from ..replay import MemoryReplayCache
from .engine import AuditDecision, FrameAuditor, FrameResult, unreadable_result
from .findings import Finding
from .logs import LogRecord, ReadOptions, ReadStats, UnreadableLine, read_logs
from .meters import MeterAudit, load_meter_keyring
from .summary import AuditReport, Summary

#: Items per batch handed to the workers; big enough to amortise the inter-process traffic, small
#: enough that memory stays flat.
CHUNK = 2048


@dataclass(frozen=True)
class AuditSettings:
    """What every worker needs to build its :class:`FrameAuditor` (picklable: paths, not keys).

    ``policy`` is the policy file; ``csms_identity`` the CSMS's own id for ``destination`` checks
    of frames sent to the CSMS. Trusted meter keys for signed meter values (OCMF):
    ``meter_keys`` (public key files), ``meter_keyrings`` (meter keyring files) and
    ``meter_certificates`` (chain files with the ``meterSigning`` usage, validated against the
    policy's trust anchors at ``meter_trust_time``, by default when the audit starts).
    """

    policy: str
    csms_identity: str | None = None
    meter_keys: tuple[str, ...] = ()
    meter_keyrings: tuple[str, ...] = ()
    meter_certificates: tuple[str, ...] = ()
    meter_trust_time: datetime | None = None


class PolicyDecide:
    """Adapts :func:`ocpp_e2e.policy.evaluate` to the audit's :class:`AuditDecision`."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def __call__(self, verification: Verification, now: datetime) -> AuditDecision:
        decision: Decision = evaluate(self.policy, verification, now=now)
        permitted = decision.effect is Effect.PERMIT
        reason = decision.reason
        if not permitted and decision.rule is None:
            # Say why the rules that could have permitted this frame did not apply.
            matching = {
                rule.id
                for rule in self.policy.rules
                if rule.effect is RuleEffect.PERMIT
                and rule.match.failure(verification.context) is None
            }
            why = [
                f"rule {r.rule}: {r.reason}"
                for r in decision.rules
                if r.rule in matching and r.reason
            ]
            if why:
                reason = f"{reason} ({'; '.join(why)})"
        return AuditDecision(
            permitted=permitted,
            rule=decision.rule,
            signers=tuple(s.identity for s in decision.signers),
            reason=reason,
            forbidden=not permitted and decision.rule is not None,
        )


def build_auditor(settings: AuditSettings) -> FrameAuditor:
    """Load the policy and build a :class:`FrameAuditor` with an in-memory replay cache."""
    policy = load_policy(settings.policy)
    meter_keys = load_meter_keyring(
        keys=settings.meter_keys,
        keyrings=settings.meter_keyrings,
        certificates=settings.meter_certificates,
        validator=policy.certificate_validator() if settings.meter_certificates else None,
        at=settings.meter_trust_time or datetime.now(UTC),
    )
    return FrameAuditor(
        policy.verifier(replay_cache=MemoryReplayCache()),
        PolicyDecide(policy),
        probe=policy.verifier(),
        csms_identity=settings.csms_identity,
        meter=MeterAudit(meter_keys),
    )


def partition(station: str, workers: int) -> int:
    """The worker that audits ``station`` (stable across runs and processes)."""
    return zlib.crc32(normalize_station(station).encode("utf-8")) % workers


def audit_logs(
    paths: Iterable[str],
    options: ReadOptions,
    settings: AuditSettings,
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Audit every frame of ``paths`` and return the findings (in input order) and the summary.

    ``progress`` is called with the number of items done after each batch. Raises
    :class:`~ocpp_e2e.errors.OcppE2EError` subclasses for unusable input (a missing file, a
    policy that does not load).
    """
    if workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    if settings.meter_certificates and settings.meter_trust_time is None:
        settings = replace(settings, meter_trust_time=datetime.now(UTC))  # one time, all workers
    stats = ReadStats()
    summary = Summary()
    findings: list[Finding] = []
    late: list[Finding] = []
    items = read_logs(paths, options, stats)
    if workers == 1:
        results = _single(items, settings, late)
    else:
        results = _parallel(items, settings, workers, late)
    done = 0
    for result in results:
        summary.add(result)
        findings.extend(result.findings)
        done += 1
        if progress is not None and done % CHUNK == 0:
            progress(done)
    if progress is not None:
        progress(done)
    for finding in late:
        summary.add_late(finding)
    findings.extend(late)
    summary.finish(stats)
    return AuditReport(findings, summary)


def _single(
    items: Iterator[LogRecord | UnreadableLine], settings: AuditSettings, late: list[Finding]
) -> Iterator[FrameResult]:
    auditor = build_auditor(settings)
    for seq, item in enumerate(items):
        if isinstance(item, UnreadableLine):
            yield unreadable_result(seq, item)
        else:
            yield auditor.audit(seq, item)
    late.extend(auditor.finish())


def _worker(settings: AuditSettings, inbox: Queue[Any], outbox: Queue[Any]) -> None:
    try:
        auditor = build_auditor(settings)
    except OcppE2EError as exc:
        outbox.put(("error", str(exc)))
        return
    while True:
        batch = inbox.get()
        if batch is None:
            outbox.put(("done", auditor.finish()))
            return
        try:
            outbox.put(("ok", [auditor.audit(seq, record) for seq, record in batch]))
        except Exception as exc:  # reported to the parent, which raises
            outbox.put(("error", f"worker failed: {type(exc).__name__}: {exc}"))
            return


def _parallel(
    items: Iterator[LogRecord | UnreadableLine],
    settings: AuditSettings,
    workers: int,
    late: list[Finding],
) -> Iterator[FrameResult]:
    # spawn, not fork: the parent may run threads (a progress bar) whose locks fork would copy.
    ctx = multiprocessing.get_context("spawn")
    inboxes: list[Queue[Any]] = [ctx.Queue(maxsize=4) for _ in range(workers)]
    outboxes: list[Queue[Any]] = [ctx.Queue() for _ in range(workers)]
    procs: list[BaseProcess] = [
        ctx.Process(target=_worker, args=(settings, inboxes[i], outboxes[i]), daemon=True)
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    pending: list[list[FrameResult]] = []  # local results (unreadable lines) of the chunk in flight
    try:
        for local in _chunks(items, inboxes, procs):
            if pending:
                yield from _collect(pending.pop(), outboxes, procs)
            pending.append(local)
        if pending:
            yield from _collect(pending.pop(), outboxes, procs)
        for inbox, proc in zip(inboxes, procs, strict=True):
            _put(inbox, None, proc)
        ends = [f for outbox, proc in zip(outboxes, procs, strict=True)
                for f in _get(outbox, proc, "done")]  # fmt: skip
        late.extend(sorted(ends, key=lambda f: f.station or ""))  # stable: meter order kept
    finally:
        for inbox in inboxes:
            with contextlib.suppress(queue.Full):
                inbox.put(None, timeout=1)
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()


def _put(inbox: Queue[Any], item: Any, proc: BaseProcess) -> None:
    while True:
        try:
            inbox.put(item, timeout=1)
            return
        except queue.Full:
            if not proc.is_alive():
                raise InputError(
                    f"audit worker {proc.name} died (exit code {proc.exitcode})"
                ) from None


def _chunks(
    items: Iterator[LogRecord | UnreadableLine], inboxes: list[Queue[Any]], procs: list[BaseProcess]
) -> Iterator[list[FrameResult]]:
    """Send batches to the workers; yield each batch's results computed here (unreadable lines)."""
    workers = len(procs)
    batches: list[list[tuple[int, LogRecord]]] = [[] for _ in range(workers)]
    local: list[FrameResult] = []
    count = 0
    for seq, item in enumerate(items):
        if isinstance(item, UnreadableLine):
            local.append(unreadable_result(seq, item))
        else:
            batches[partition(item.station, workers)].append((seq, item))
        count += 1
        if count == CHUNK:
            for inbox, batch, proc in zip(inboxes, batches, procs, strict=True):
                _put(inbox, batch, proc)
            yield local
            batches, local, count = [[] for _ in range(workers)], [], 0
    if count:
        for inbox, batch, proc in zip(inboxes, batches, procs, strict=True):
            _put(inbox, batch, proc)
        yield local


def _get(outbox: Queue[Any], proc: BaseProcess, expected: str) -> Any:
    while True:
        try:
            status, payload = outbox.get(timeout=1)
            break
        except queue.Empty:
            if not proc.is_alive():
                raise InputError(
                    f"audit worker {proc.name} died (exit code {proc.exitcode})"
                ) from None
    if status != expected:
        raise InputError(payload)
    return payload


def _collect(
    local: list[FrameResult], outboxes: list[Queue[Any]], procs: list[BaseProcess]
) -> Iterator[FrameResult]:
    merged = list(local)
    for outbox, proc in zip(outboxes, procs, strict=True):
        merged.extend(_get(outbox, proc, "ok"))
    merged.sort(key=lambda r: r.seq)
    yield from merged
