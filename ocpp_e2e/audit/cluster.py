"""The audit spread over worker processes: a Dask cluster, local or remote.

Pairing, replay detection, freshness and meter transactions are per station and need capture
order, so the work is partitioned by station in two passes:

1. **route** — one task per log file reads it (the same readers as a single-process audit) and
   writes each station's pieces, in file order, to a *shard* per partition in a scratch folder
   that the workers share (a local temporary folder for a local cluster; any fsspec URL, such as
   ``s3://bucket/tmp``, for a remote one);
2. **audit** — one task per partition reads its shards file by file, in input order, and audits
   them with its own :class:`~ocpp_e2e.audit.run.AuditUnit`; it returns only the findings (with
   their place in the input) and its :class:`~ocpp_e2e.audit.summary.Summary`.

With a single partition (a cluster of one worker) there is nothing to route: one task reads the
files in order and audits them, as one process would, without shards (one pass).

The client merges the summaries and sorts the findings by place, exactly as the single-process
audit does, so the report is the same whatever the number of workers. A worker that dies is
replaced by Dask and its task runs again: routing rewrites whole shards and auditing only reads,
so a retried task gives the same result. Audit tasks report how many items they have audited as they go
(Dask events, one a second), which the client sums for its progress display. Memory per task is bounded: routing holds at most
:data:`~ocpp_e2e.audit.run.BATCH_BYTES` of lines per partition before writing them, auditing one
batch at a time plus the per-station state of its partition (pending calls, replay entries).

Shards hold only the classes of :mod:`ocpp_e2e.audit.logs` (read with an unpickler that refuses
every other class), so a scratch folder writable by others cannot make a worker run code.

>>> Cluster(workers=2).describe()
'a local Dask cluster of 2 worker processes'
"""

from __future__ import annotations

import io
import os
import pickle
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, cast

from ..errors import InputError, OcppE2EError
from .logs import ReadOptions, ReadStats

if TYPE_CHECKING:
    from .run import AuditSettings, End, Placed, Work

__all__ = [
    "PARTS_PER_WORKER",
    "PROGRESS_SECONDS",
    "ROUTE_BUFFER_BYTES",
    "SHARD_FLUSH_BYTES",
    "Cluster",
    "audit_files",
    "audit_on_cluster",
    "dask_setup",
]

#: Partitions per worker: several, so that one large station does not leave the others idle.
PARTS_PER_WORKER = 4
#: Seconds between two progress reports of a task.
PROGRESS_SECONDS = 1.0
#: Bytes of pieces a routing task buffers per partition before appending them to the shard.
SHARD_FLUSH_BYTES = 4 << 20
#: Bytes a routing task buffers over all its partitions: past this, every buffer is written out
#: (so a cluster of many workers, hence many partitions, does not multiply a task's memory).
ROUTE_BUFFER_BYTES = 32 << 20


@dataclass(frozen=True)
class Cluster:
    """Where the audit runs.

    ``address`` is a Dask scheduler (``tcp://host:8786``); without one, a ``LocalCluster`` of
    ``workers`` processes (default: one per core) is started for the audit and stopped after it.
    ``scratch`` is the folder (path or fsspec URL) where routed shards are written; it must be
    reachable from every worker: by default a temporary folder on this machine, which only a
    local cluster can use. ``partitions`` is the number of station partitions (one audit task
    each): by default :data:`PARTS_PER_WORKER` per worker, and 1 on a cluster of one worker,
    whose single task then reads and audits the files in one pass, without routing.
    """

    address: str | None = None
    workers: int | None = None
    scratch: str | None = None
    partitions: int | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise InputError(f"--workers must be at least 1, not {self.workers}")
        if self.partitions is not None and self.partitions < 1:
            raise InputError(f"partitions must be at least 1, not {self.partitions}")
        if self.address is not None and self.scratch is None:
            raise InputError(
                f"a remote Dask cluster ({self.address}) cannot read this machine's temporary "
                "folder: give a scratch folder every worker can reach (--scratch, e.g. "
                "s3://bucket/ocpp-e2e-scratch)"
            )

    def describe(self) -> str:
        """One line for the terminal: where the audit runs."""
        if self.address is not None:
            return f"the Dask cluster at {self.address}"
        count = self.workers or os.cpu_count() or 1
        return f"a local Dask cluster of {count} worker process{'es' if count != 1 else ''}"


@dataclass
class _Routed:
    """What routing one file produced: its read counts and the shard of each partition."""

    index: int
    stats: ReadStats
    items: int
    shards: dict[int, str] = field(default_factory=dict)


def audit_on_cluster(
    paths: Sequence[str],
    options: ReadOptions,
    settings: AuditSettings,
    cluster: Cluster,
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Placed], list[End], ReadStats, int]:
    """Audit ``paths`` on ``cluster``; return the placed findings, the units' ends, the counts
    and how many findings the tasks did not send (each sends at most its first
    ``settings.max_findings``: no other can be among the report's first).

    The caller (:func:`ocpp_e2e.audit.run.audit_logs`) merges them as it merges a single unit's.
    """
    import dask
    from distributed import Client, LocalCluster, as_completed

    if "-" in paths:
        raise InputError("standard input cannot be read by cluster workers; name files instead")
    local = cluster.address is None
    scratch_root = cluster.scratch or tempfile.mkdtemp(prefix="ocpp-e2e-audit-")
    scratch = f"{scratch_root.rstrip('/')}/{uuid.uuid4().hex}"
    dask_cluster: Any = None
    try:
        if local:
            count = cluster.workers or os.cpu_count() or 1
            # The workers' statistical profiler samples the running task every few milliseconds:
            # a cost on pure-Python work, for a dashboard nobody looks at here.
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                dask_cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=count,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=50,
                    preload=[__name__],  # the audit's imports happen as the workers start
                )
            client = Client(dask_cluster)  # type: ignore[no-untyped-call]
        else:
            try:
                client = Client(cluster.address)  # type: ignore[no-untyped-call]
            except OSError as exc:
                raise InputError(
                    f"cannot reach the Dask scheduler at {cluster.address}: {exc}"
                ) from exc
            count = max(1, len(client.scheduler_info().get("workers", {})))
        with client:
            parts = _partitions(cluster, count)
            with _Progress(client, progress) as shown:
                if parts == 1:
                    return _one_pass(client, paths, options, settings, shown)
                return _run(client, as_completed, paths, options, settings, parts, scratch, shown)
    finally:
        if dask_cluster is not None:
            dask_cluster.close()
        _remove(scratch)
        if cluster.scratch is None:
            shutil.rmtree(scratch_root, ignore_errors=True)


def _partitions(cluster: Cluster, workers: int) -> int:
    """How many station partitions (audit tasks) an audit on ``workers`` workers uses.

    >>> _partitions(Cluster(), 1), _partitions(Cluster(), 2), _partitions(Cluster(partitions=3), 2)
    (1, 8, 3)
    """
    return cluster.partitions or (1 if workers == 1 else workers * PARTS_PER_WORKER)


def _run(
    client: Any,
    as_completed: Any,
    paths: Sequence[str],
    options: ReadOptions,
    settings: AuditSettings,
    parts: int,
    scratch: str,
    shown: _Progress,
) -> tuple[list[Placed], list[End], ReadStats, int]:
    routing = [
        client.submit(
            _route_file,
            i,
            path,
            options,
            parts,
            scratch,
            key=f"ocpp-e2e-route-{i}-{uuid.uuid4().hex}",
            pure=False,
        )
        for i, path in enumerate(paths)
    ]
    routed: list[_Routed] = [_result(future) for future in as_completed(routing)]
    routed.sort(key=lambda r: r.index)
    stats = ReadStats()
    shards: dict[int, list[str]] = {}
    for result in routed:  # in file order: each station's pieces stay in capture order
        _merge_stats(stats, result.stats)
        for part, url in sorted(result.shards.items()):
            shards.setdefault(part, []).append(url)
    auditing = [
        client.submit(
            _audit_partition,
            settings,
            options.default_ocpp,
            urls,
            shown.topic,
            f"partition {part}",
            key=f"ocpp-e2e-audit-{part}-{uuid.uuid4().hex}",
            pure=False,
        )
        for part, urls in sorted(shards.items())
    ]
    placed: list[Placed] = []
    ends: list[End] = []
    unlisted = 0
    for future in as_completed(auditing):
        part_placed, end, part_unlisted = _result(future)
        placed.extend(part_placed)
        ends.append(end)
        unlisted += part_unlisted
    shown.finish(sum(r.items for r in routed))
    return placed, ends, stats, unlisted


def _one_pass(
    client: Any,
    paths: Sequence[str],
    options: ReadOptions,
    settings: AuditSettings,
    shown: _Progress,
) -> tuple[list[Placed], list[End], ReadStats, int]:
    """One partition: a single task reads and audits every file in order (nothing to route)."""
    future = client.submit(
        audit_files,
        paths,
        options,
        settings,
        shown.topic,
        key=f"ocpp-e2e-audit-all-{uuid.uuid4().hex}",
        pure=False,
    )
    placed, end, stats, items, unlisted = _result(future)
    shown.finish(items)
    return placed, [end], stats, unlisted


def audit_files(
    paths: Sequence[str], options: ReadOptions, settings: AuditSettings, topic: str = ""
) -> tuple[list[Placed], End, ReadStats, int, int]:
    """The whole audit in one task, as one process runs it (a cluster of one partition);
    returns its first findings, its unit's end, the read counts, the items audited and how many
    findings it did not send."""
    from .run import Listing, _single, _work

    stats = ReadStats()
    tell = _Teller(topic, "all")
    done = [0]

    def count(items: int) -> None:
        done[0] = items
        tell(items)

    listing = Listing(settings.max_findings)
    work = _work(paths, options, stats)
    ends = _single(work, settings, options.default_ocpp, count, listing)
    tell(done[0], last=True)
    placed = listing.placed()
    return placed, ends[0], stats, done[0], listing.seen - len(placed)


def _result(future: Any) -> Any:
    """A task's result; a failure becomes the project's error with the task's reason."""
    from distributed import KilledWorker

    try:
        return future.result()
    except OcppE2EError:
        raise
    except KilledWorker as exc:
        raise InputError(
            f"audit task {future.key} failed: every worker that ran it died ({exc})"
        ) from exc
    except Exception as exc:
        raise InputError(f"audit task failed: {type(exc).__name__}: {exc}") from exc


def _merge_stats(into: ReadStats, other: ReadStats) -> None:
    """Add the counts of ``other`` to ``into`` (per-file facts are kept per file)."""
    for name, value in vars(other).items():
        mine = getattr(into, name)
        if isinstance(value, bool):
            setattr(into, name, mine or value)
        elif isinstance(value, int):
            setattr(into, name, mine + value)
        elif isinstance(value, dict):
            mine.update(value)
        elif isinstance(value, list):
            mine.extend(value)
        elif isinstance(value, set):
            mine.update(value)


def _route_file(index: int, path: str, options: ReadOptions, parts: int, scratch: str) -> _Routed:
    """Pass 1: read one file and write each partition's pieces, in file order, to its shard."""
    from .run import _split, _work, work_size

    stats = ReadStats()
    routed = _Routed(index, stats, 0)
    writers: dict[int, _ShardWriter] = {}
    buffered = 0
    try:
        for _, piece in _work([path], options, stats):
            routed.items += work_size(piece)
            for part, share in enumerate(_split(piece, parts)):
                if share is None:
                    continue
                writer = writers.get(part)
                if writer is None:
                    url = f"{scratch}/{part:05d}/{index:08d}.shard"
                    writer = writers[part] = _ShardWriter(url)
                    routed.shards[part] = url
                buffered += writer.add((index, share))
                if buffered >= ROUTE_BUFFER_BYTES:
                    for each in writers.values():
                        each.flush()
                    buffered = 0
    finally:
        for writer in writers.values():
            writer.close()
    return routed


def _audit_partition(
    settings: AuditSettings, ocpp: str, urls: Sequence[str], topic: str = "", name: str = ""
) -> tuple[list[Placed], End, int]:
    """Pass 2: audit one partition's shards in input order with one unit; return its first
    ``settings.max_findings`` findings, its unit's end and how many findings it did not send."""
    from .run import AuditUnit, Listing, work_size

    tell = _Teller(topic, name)
    unit = AuditUnit(settings, ocpp)
    listing = Listing(settings.max_findings)
    items = 0
    for url in urls:
        for work in _read_shard(url):
            listing.extend(unit.take(work))
            items += work_size(work[1])
            tell(items)
    tell(items, last=True)
    placed = listing.placed()
    return placed, unit.finish(), listing.seen - len(placed)


def dask_setup(worker: object) -> None:
    """Dask preload hook (``dask worker --preload ocpp_e2e.audit.cluster``): import the audit
    as the worker starts, so that its first task does not pay for it."""
    from . import run  # noqa: F401


# --------------------------------------------------------------------------- progress


class _Teller:
    """A task's progress: the items it has audited, sent as a Dask event on ``topic`` at most
    every :data:`PROGRESS_SECONDS` and once at the end, under the task's ``name`` (the same for a
    retried task). Outside a Dask worker, or without a topic, it tells nobody."""

    def __init__(self, topic: str, name: str) -> None:
        self.topic, self.name = topic, name
        self.next = time.monotonic() + PROGRESS_SECONDS

    def __call__(self, done: int, *, last: bool = False) -> None:
        if not self.topic or (not last and time.monotonic() < self.next):
            return
        self.next = time.monotonic() + PROGRESS_SECONDS
        from distributed import get_worker

        try:
            worker = get_worker()
        except ValueError:  # not in a worker: nobody to tell
            return
        worker.log_event(self.topic, [self.name, done])


class _Progress:
    """The client's side of :class:`_Teller`: the sum, over the tasks reporting on one topic, of
    the most each has reported (a retried task starts again from 0 and is not counted twice),
    given to ``progress`` only when it grows and never past the ``total`` given at the end."""

    def __init__(self, client: Any, progress: Callable[[int], None] | None) -> None:
        self.client, self.progress = client, progress
        self.topic = f"ocpp-e2e-progress-{uuid.uuid4().hex}" if progress is not None else ""
        self.most: dict[str, int] = {}
        self.shown = 0
        self.finished = False
        self.lock = threading.Lock()

    def __enter__(self) -> _Progress:
        if self.topic:
            self.client.subscribe_topic(self.topic, self._event)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.topic:
            self.client.unsubscribe_topic(self.topic)

    def _event(self, event: tuple[float, list[Any]]) -> None:
        name, done = event[1]
        with self.lock:
            if self.finished:
                return
            self.most[name] = max(done, self.most.get(name, 0))
            self._show(sum(self.most.values()))

    def finish(self, total: int) -> None:
        """Every task is done: show ``total``, and nothing after it."""
        with self.lock:
            self.finished = True
            self._show(total)

    def _show(self, done: int) -> None:
        if done > self.shown and self.progress is not None:
            self.shown = done
            self.progress(done)


# --------------------------------------------------------------------------- shards


class _ShardWriter:
    """Pieces of one partition from one file, appended in batches to one shard file."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.batch: list[Work] = []
        self.size = 0
        self.stream: IO[bytes] | None = None

    def add(self, work: Work) -> int:
        """Buffer one piece (written out past :data:`SHARD_FLUSH_BYTES`); return its size."""
        from .run import piece_bytes

        size = piece_bytes(work[1])
        self.batch.append(work)
        self.size += size
        if self.size >= SHARD_FLUSH_BYTES:
            self.flush()
        return size

    def flush(self) -> None:
        if not self.batch:
            return
        if self.stream is None:
            self.stream = _open(self.url, "wb")
        pickle.dump(self.batch, self.stream, protocol=pickle.HIGHEST_PROTOCOL)
        self.batch, self.size = [], 0

    def close(self) -> None:
        self.flush()
        if self.stream is not None:
            self.stream.close()


#: The only classes a shard may name (module, class): the pieces of :mod:`ocpp_e2e.audit.logs`.
_SHARD_CLASSES = {
    ("ocpp_e2e.audit.logs", "LogRecord"),
    ("ocpp_e2e.audit.logs", "UnreadableLine"),
    ("ocpp_e2e.audit.logs", "RawLines"),
    ("ocpp_e2e.model", "Direction"),
    ("datetime", "datetime"),
    ("datetime", "timezone"),
    ("datetime", "timedelta"),
}


class _ShardUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _SHARD_CLASSES:
            raise InputError(f"scratch shard names a class it may not hold: {module}.{name}")
        return super().find_class(module, name)


def _read_shard(url: str) -> Iterator[Work]:
    """The pieces of one shard, in the order they were written."""
    with _open(url, "rb") as stream:
        buffered = io.BufferedReader(cast(io.RawIOBase, stream))
        while buffered.peek(1):
            batch = _ShardUnpickler(buffered).load()
            yield from batch


def _open(url: str, mode: str) -> IO[bytes]:
    import fsspec

    opened: IO[bytes] = fsspec.open(url, mode, auto_mkdir=True).open()
    return opened


def _remove(url: str) -> None:
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url)
        if fs.exists(path):
            fs.rm(path, recursive=True)
    except OSError:
        pass  # a scratch folder that cannot be cleaned must not hide the audit's result
