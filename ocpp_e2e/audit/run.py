"""Running an audit over log files, in one process or on a Dask cluster.

Stations are independent (pairing, replay keys and meter transactions are all per connection), so
``workers > 1`` (a local Dask cluster) or a :class:`~ocpp_e2e.audit.cluster.Cluster` sends each
station's frames, in capture order, to one task chosen by a hash of the station identity, and
merges the results back into input order: the findings and the summary are identical to those of
one process (:mod:`ocpp_e2e.audit.cluster`).

Files are audited in the order of their names (``sorted``), whatever order they were given in,
so that a shuffled file list gives the same report; name rotated logs so that their names sort in
time order (``ocpp-2026-11-30.log``, ...). Paths may be fsspec URLs (``s3://``, ``gs://``,
``file://``, ...) and globs.

Example (the reader's own policy and log)::

    settings = AuditSettings(policy="policy.yaml")
    report = audit_logs(["day.jsonl.gz"], ReadOptions(), settings, workers=2)
"""

from __future__ import annotations

import functools
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import orjson

from ..context import normalize_station
from ..errors import InputError
from ..model import Verification
from ..policy import Decision, Effect, RuleEffect, evaluate, load_policy
from ..policy.model import Policy
from .engine import (
    UNANSWERED_GRACE,
    AuditDecision,
    AuditReplayCache,
    FrameAuditor,
    unreadable_result,
)
from .findings import MAX_FINDINGS, Finding
from .logs import (
    Item,
    LogRecord,
    RawLines,
    ReadOptions,
    ReadStats,
    UnreadableFile,
    UnreadableLine,
    open_log,
    read_jsonl_line,
    scan_stream,
)
from .meters import MeterAudit, load_meter_keyring
from .summary import AuditReport, Summary

if TYPE_CHECKING:  # Dask runs import the cluster module when they start
    from .cluster import Cluster

__all__ = [
    "BATCH_BYTES",
    "BATCH_ITEMS",
    "AuditSettings",
    "AuditUnit",
    "End",
    "Listing",
    "Placed",
    "PolicyDecide",
    "Work",
    "audit_logs",
    "build_auditor",
    "input_files",
    "partition",
    "piece_bytes",
    "route",
    "work_size",
]

#: Bytes of log lines per batch handed to a worker: big enough to amortise the inter-process
#: traffic, small enough that memory stays flat (at most 4 batches wait per worker).
BATCH_BYTES = 4 << 20
#: Items per batch of records read by the text-log adapters.
BATCH_ITEMS = 4096


@dataclass(frozen=True)
class AuditSettings:
    """What every worker needs to build its :class:`FrameAuditor` (picklable: paths, not keys).

    ``policy`` is the policy file; ``csms_identity`` the CSMS's own id for ``destination`` checks
    of frames sent to the CSMS; ``max_findings`` how many findings the report lists at most (the
    first in input order; the summary counts all of them). Trusted meter keys for signed meter values (OCMF):
    ``meter_keys`` (public key files), ``meter_keyrings`` (meter keyring files) and
    ``meter_certificates`` (chain files with the ``meterSigning`` usage, validated against the
    policy's trust anchors at ``now``).

    ``now`` is the time of the audit, given by the caller (the library reads no clock): frames
    without a capture time are decided at it (their freshness is not judged) and meter key
    certificates are validated at it.
    """

    policy: str
    now: datetime
    csms_identity: str | None = None
    keep_frames: int = 0
    grace_seconds: float = UNANSWERED_GRACE.total_seconds()
    meter_keys: tuple[str, ...] = ()
    meter_keyrings: tuple[str, ...] = ()
    meter_certificates: tuple[str, ...] = ()
    max_findings: int = MAX_FINDINGS


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
            permitted,
            decision.rule,
            tuple(s.identity for s in decision.signers),
            reason,
            not permitted and decision.rule is not None,
        )


def build_auditor(settings: AuditSettings) -> FrameAuditor:
    """Load the policy and build a :class:`FrameAuditor` with an in-memory replay cache."""
    policy = load_policy(settings.policy)
    meter_keys = load_meter_keyring(
        keys=settings.meter_keys,
        keyrings=settings.meter_keyrings,
        certificates=settings.meter_certificates,
        validator=policy.certificate_validator() if settings.meter_certificates else None,
        at=settings.now,
    )
    return FrameAuditor(
        policy.verifier(replay_cache=AuditReplayCache()),
        PolicyDecide(policy),
        probe=policy.verifier(),
        csms_identity=settings.csms_identity,
        meter=MeterAudit(meter_keys),
        now=settings.now,
        grace=timedelta(seconds=settings.grace_seconds),
    )


def partition(station: str, workers: int) -> int:
    """The worker that audits ``station`` (stable across runs and processes)."""
    return zlib.crc32(normalize_station(station).encode("utf-8")) % workers


def route(raw: bytes, workers: int) -> int:
    """The worker for one raw line of a normalized log: that of its station (:func:`partition`).

    The line is parsed by orjson, as the worker will parse it (for lines of a few hundred bytes
    that is cheaper than a safe scan of the bytes for the member, and exact by construction). A
    line without a usable station goes to worker 0: it is unreadable anyway.
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return 0
    station = obj.get("station") if type(obj) is dict else None
    return _partition(station, workers) if type(station) is str else 0


@functools.lru_cache(maxsize=1 << 16)
def _partition(station: str, workers: int) -> int:
    return partition(station, workers)


#: One piece of work: the index of its file among the inputs, and its raw lines or read items.
Work = tuple[int, RawLines | list[Item]]
#: A finding with its place in the input: (file index, line).
Placed = tuple[int, int, Finding]
#: What a unit returns at the end: (summary, records, unreadable lines, late findings).
End = tuple[Summary, int, int, list[Finding]]


class AuditUnit:
    """The audit of a share of the input, in one process: the worker's whole job.

    It parses raw JSON Lines, audits each frame, counts the results in its own
    :class:`~ocpp_e2e.audit.summary.Summary` and returns only the findings with their place in the
    input. ``ocpp`` is the version of records that name none.
    """

    def __init__(self, settings: AuditSettings, ocpp: str) -> None:
        self.auditor = build_auditor(settings)
        self.ocpp = ocpp
        self.summary = Summary(keep=settings.keep_frames)
        self.records = 0
        self.unreadable = 0

    def take(self, work: Work) -> list[Placed]:
        """Audit one piece of work; return its findings, placed."""
        index, piece = work
        out: list[Placed] = []
        audit, add, ocpp = self.auditor.audit, self.summary.add, self.ocpp
        keep = self.summary.keep > len(self.summary.rows)
        self.auditor.rows = keep  # rows are formatted only while the traffic view takes them
        if isinstance(piece, RawLines):
            source = piece.source
            items: Iterable[Item | None] = (
                read_jsonl_line(source, number, raw, ocpp)
                for number, raw in zip(piece.numbers, piece.lines, strict=True)
            )
        else:
            items = piece
        for item in items:
            if item is None:
                continue
            if type(item) is LogRecord:
                self.records += 1
                result = audit(item.line, item)
            else:
                assert isinstance(item, UnreadableLine)
                self.unreadable += 1
                result = unreadable_result(item.line, item)
            add(result)
            if keep:
                self.summary.keep_row(index, result)
            if result.findings:
                out.extend((index, f.line, f) for f in result.findings)
        return out

    def finish(self) -> End:
        """(summary, records, unreadable lines, findings known only at the end)."""
        return self.summary, self.records, self.unreadable, self.auditor.finish()


def audit_logs(
    paths: Iterable[str],
    options: ReadOptions,
    settings: AuditSettings,
    *,
    workers: int = 1,
    cluster: Cluster | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Audit every frame of ``paths`` and return the findings (in input order) and the summary.

    ``workers > 1`` runs the audit on a local Dask cluster of that many processes; ``cluster``
    names another (a scheduler address, a scratch folder). ``progress`` is called now and then
    with the number of items done (lines of JSON Lines logs, records and unreadable lines of the
    other formats; on a cluster, read and then audited). Raises
    :class:`~ocpp_e2e.errors.OcppE2EError` subclasses for unusable input (a missing file, a
    policy that does not load).
    """
    if workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    if cluster is None and workers > 1:
        from .cluster import Cluster

        cluster = Cluster(workers=workers)
    files = input_files(paths)
    for path in files:  # a name given by mistake is a usage error before any work
        if path != "-" and "://" not in path and not os.path.exists(path):
            raise InputError("cannot open log file (No such file or directory)", source=path)
    if settings.max_findings < 1:
        raise InputError(f"--max-findings must be at least 1, not {settings.max_findings}")
    listing = Listing(settings.max_findings)
    if cluster is None:
        stats = ReadStats()
        ends = _single(
            _work(files, options, stats), settings, options.default_ocpp, progress, listing
        )
    else:
        from .cluster import audit_on_cluster

        build_auditor(settings)  # a policy or meter key that does not load fails here, at once
        placed, ends, stats, unlisted = audit_on_cluster(
            files, options, settings, cluster, progress=progress
        )
        listing.extend(placed)
        listing.seen += unlisted  # the findings past max_findings that tasks did not send
    summary = Summary(keep=settings.keep_frames)
    late: list[Finding] = []
    for part, records, unreadable, finished in ends:
        summary.merge(part)
        stats.records += records
        stats.unreadable += unreadable
        late.extend(finished)
    # Each station's late findings come from one unit, in its order: a stable sort keeps it.
    late.sort(key=lambda f: f.station or "")
    for finding in late:
        summary.add_late(finding)
    findings = listing.first()
    findings.extend(late[: max(0, settings.max_findings - len(findings))])
    summary.unlisted = listing.seen + len(late) - len(findings)
    summary.finish(stats)
    return AuditReport(findings, summary)


def _place(placed: Placed) -> tuple[int, int]:
    return placed[0], placed[1]


class Listing:
    """The first ``limit`` findings in input order, whatever order they come in (a CALL's
    ``unanswered-call`` comes after later frames; Dask partitions come in any order), held in
    memory bounded by ``2 * limit`` findings."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen = 0
        self._held: list[Placed] = []

    def extend(self, placed: list[Placed]) -> None:
        self.seen += len(placed)
        self._held.extend(placed)
        if len(self._held) >= 2 * self.limit:
            self._cut()

    def _cut(self) -> None:
        self._held.sort(key=_place)  # stable: a frame's findings keep their order
        del self._held[self.limit :]

    def first(self) -> list[Finding]:
        """The findings kept, in input order."""
        return [f for _, _, f in self.placed()]

    def placed(self) -> list[Placed]:
        """The findings kept, in input order, with their places (what a Dask task sends back)."""
        self._cut()
        return self._held


def input_files(paths: Iterable[str]) -> list[str]:
    """The files to audit: globs (local or fsspec URLs) expanded, sorted by name.

    ``-`` (standard input) stays as it is. A glob that matches nothing is an error naming it.
    """
    files: list[str] = []
    for path in paths:
        if path == "-" or not any(c in path for c in "*?["):
            files.append(path)
            continue
        import fsspec

        fs, pattern = fsspec.core.url_to_fs(path)
        matches = sorted(fs.glob(pattern))
        if not matches:
            raise InputError("no file matches this pattern", source=path)
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        prefix = "" if protocol in ("file", "local") else f"{protocol}://"
        files.extend(m if m.startswith(prefix) else prefix + m for m in matches)
    return sorted(files)


def _work(paths: Iterable[str], options: ReadOptions, stats: ReadStats) -> Iterator[Work]:
    """The input in pieces: blocks of raw JSON Lines, and batches of items of other formats."""
    for index, path in enumerate(paths):
        batch: list[Item] = []
        try:
            with open_log(path) as stream:
                for piece in scan_stream(stream, path, options, stats):
                    if isinstance(piece, RawLines):
                        if batch:
                            yield index, batch
                            batch = []
                        yield index, piece
                    else:
                        batch.append(piece)
                        if len(batch) >= BATCH_ITEMS:
                            yield index, batch
                            batch = []
        except UnreadableFile as exc:
            # One broken file must not end an audit of many: what it held up to the break
            # stays audited, the break is a finding at its place, the other files go on.
            batch.append(UnreadableLine(path, exc.line, exc.reason, ""))
        if batch:
            yield index, batch


def _single(
    work: Iterator[Work],
    settings: AuditSettings,
    ocpp: str,
    progress: Callable[[int], None] | None,
    listing: Listing,
) -> list[End]:
    unit = AuditUnit(settings, ocpp)
    done = 0
    for piece in work:
        listing.extend(unit.take(piece))
        if progress is not None:
            done += work_size(piece[1])
            progress(done)
    return [unit.finish()]


def work_size(piece: RawLines | list[Item]) -> int:
    """Items in a piece of work (lines of JSON Lines, records and unreadable lines otherwise)."""
    return len(piece.lines) if isinstance(piece, RawLines) else len(piece)


def _split(piece: RawLines | list[Item], count: int) -> list[RawLines | list[Item] | None]:
    """A piece divided among ``count`` workers by station; None where a worker gets nothing."""
    if isinstance(piece, RawLines):
        numbers: list[list[int]] = [[] for _ in range(count)]
        lines: list[list[bytes]] = [[] for _ in range(count)]
        for number, raw in zip(piece.numbers, piece.lines, strict=True):
            i = route(raw, count)
            numbers[i].append(number)
            lines[i].append(raw)
        return [
            RawLines(piece.source, numbers[i], lines[i]) if lines[i] else None for i in range(count)
        ]
    parts: list[list[Item]] = [[] for _ in range(count)]
    for item in piece:
        i = partition(item.station, count) if isinstance(item, LogRecord) else 0
        parts[i].append(item)
    return [part or None for part in parts]


def piece_bytes(piece: RawLines | list[Item]) -> int:
    if isinstance(piece, RawLines):
        return sum(map(len, piece.lines))
    return sum(len(item.frame) if isinstance(item, LogRecord) else 100 for item in piece)
