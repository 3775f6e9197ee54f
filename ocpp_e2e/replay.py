"""SPEC §4 replay caches: keyed by key id and the SHA-256 of the signing input, never by value.

An entry lives until timestamp + maxSignatureAge + clockSkew; after that the freshness check refuses
the signature anyway. ``mode: enforce`` needs a cache that survives restarts:
:class:`SQLiteReplayCache` (one file, safe for several processes).

Two interfaces: :class:`ReplayCache` (synchronous, for audits and the CLI) and
:class:`AsyncReplayCache` (``await check_and_add_async(...)``, for an event loop). Both caches here
offer both. On an event loop the SQLite cache runs in its own worker thread, so another process
holding the file's write lock never stalls the loop; the caller bounds the wait
(:class:`~ocpp_e2e.guard.Guard` does, and fails closed with "replay cache unavailable").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from .errors import OcppE2EError

__all__ = [
    "AsyncReplayCache",
    "MemoryReplayCache",
    "ReplayCache",
    "ReplayCacheUnavailable",
    "SQLiteReplayCache",
]


class ReplayCacheUnavailable(OcppE2EError):
    """The replay cache could not answer (locked by another process, full queue, I/O error).

    A verifier that enforces must then refuse the signature: without the answer a replay could
    pass (SPEC §4). The message says why.
    """


class ReplayCache(Protocol):
    """Remembers signatures until they expire.

    ``survives_restart`` says whether entries outlive the process; a verifier that enforces with a
    cache that does not must refuse signatures dated before it started (SPEC §4).
    """

    survives_restart: bool

    def check_and_add(
        self, key_id: str, input_digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        """Return True when (key_id, input_digest) was already seen and has not expired; else record it."""
        ...


@runtime_checkable
class AsyncReplayCache(Protocol):
    """A replay cache for an event loop: the check never blocks the loop.

    Implementations may take as long as they need; the caller bounds the wait and fails closed.
    Raise :class:`ReplayCacheUnavailable` (or any exception) when the answer is not known.
    """

    survives_restart: bool

    async def check_and_add_async(
        self, key_id: str, input_digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        """Like :meth:`ReplayCache.check_and_add`, awaitable."""
        ...


class MemoryReplayCache:
    """An in-process cache (for audits and tests; it does not survive a restart)."""

    survives_restart = False

    def __init__(self) -> None:
        self._entries: dict[tuple[str, bytes], float] = {}
        self._expiry: list[tuple[float, str, bytes]] = []

    def check_and_add(
        self, key_id: str, input_digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        t_now = now.timestamp()
        while self._expiry and self._expiry[0][0] < t_now:
            t, kid, dig = heapq.heappop(self._expiry)
            if self._entries.get((kid, dig)) == t:
                del self._entries[(kid, dig)]
        key = (key_id, input_digest)
        old = self._entries.get(key)
        if old is not None and old >= t_now:
            return True
        t_exp = expires.timestamp()
        self._entries[key] = t_exp
        heapq.heappush(self._expiry, (t_exp, key_id, input_digest))
        return False

    async def check_and_add_async(
        self, key_id: str, input_digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        """The same check; a dictionary lookup never needs to leave the loop."""
        return self.check_and_add(key_id, input_digest, expires, now)

    def __len__(self) -> int:
        return len(self._entries)


def _seen_or_recorded(
    db: sqlite3.Connection, key_id: str, digest: bytes, t_exp: float, t_now: float
) -> bool:
    """In an open write transaction: True when (key_id, digest) is recorded and not expired;
    otherwise record it until ``t_exp`` and return False."""
    row = db.execute(
        "SELECT expires FROM replay WHERE key_id = ? AND digest = ?", (key_id, digest)
    ).fetchone()
    if row is not None and row[0] >= t_now:
        return True
    db.execute(
        "INSERT OR REPLACE INTO replay (key_id, digest, expires) VALUES (?, ?, ?)",
        (key_id, digest, t_exp),
    )
    return False


class SQLiteReplayCache:
    """A replay cache in one SQLite file; survives restarts and is shared by processes.

    ``busy_timeout`` (seconds) is how long one check waits for another process's write lock before
    it fails with :class:`ReplayCacheUnavailable`. Expired entries are deleted in small batches
    through an index on ``expires``, so the cost does not grow with the size of the file.

    On an event loop use :meth:`check_and_add_async`. When the file's write lock is free the
    check runs in place, on a second connection that never waits for a lock (tens of
    microseconds: no fsync in WAL mode, no expiry sweep, no checkpoint on that connection); when
    the lock is held (another process, or a check already queued) it runs in this cache's own
    worker thread (one, so commits stay in order), at most ``max_queue`` checks wait for it, and a
    check whose caller stopped waiting is never started. Sweeps and WAL checkpoints run in the
    worker thread too.

    >>> import tempfile, pathlib
    >>> from datetime import UTC, datetime, timedelta
    >>> cache = SQLiteReplayCache(pathlib.Path(tempfile.mkdtemp()) / "replay.sqlite")
    >>> now = datetime(2026, 6, 1, tzinfo=UTC)
    >>> cache.check_and_add("k", b"d", now + timedelta(minutes=5), now)
    False
    >>> cache.check_and_add("k", b"d", now + timedelta(minutes=5), now)
    True
    >>> cache.close()
    """

    survives_restart = True
    #: Writes between two expiry sweeps, and rows deleted per sweep at most.
    SWEEP_EVERY = 256
    SWEEP_BATCH = 2048

    def __init__(
        self, path: Path | str, *, busy_timeout: float = 1.0, max_queue: int = 1024
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.max_queue = max_queue
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL keeps every commit across a crash of the process (the restart
            # SPEC §4 is about) and skips the fsync per signature; only a power cut can lose the
            # last commits.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS replay (key_id TEXT NOT NULL, digest BLOB NOT NULL, "
                "expires REAL NOT NULL, PRIMARY KEY (key_id, digest))"
            )
            self._db.execute("CREATE INDEX IF NOT EXISTS replay_expires ON replay (expires)")
        except sqlite3.Error as exc:
            raise ReplayCacheUnavailable(
                f"replay cache {self.path} cannot be opened: {exc}"
            ) from exc
        self._writes = 0
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._queued = 0
        self._fast: sqlite3.Connection | None = None
        self._fast_lock = threading.Lock()

    def check_and_add(
        self, key_id: str, input_digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        t_now = now.timestamp()
        with self._lock:
            try:
                return self._check_and_add(key_id, input_digest, expires.timestamp(), t_now)
            except sqlite3.Error as exc:
                raise ReplayCacheUnavailable(f"replay cache {self.path}: {exc}") from exc

    def _check_and_add(self, key_id: str, digest: bytes, t_exp: float, t_now: float) -> bool:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if _seen_or_recorded(db, key_id, digest, t_exp, t_now):
                db.execute("COMMIT")
                return True
            self._writes += 1
            if self._writes % self.SWEEP_EVERY == 0:
                db.execute(
                    "DELETE FROM replay WHERE rowid IN "
                    "(SELECT rowid FROM replay WHERE expires < ? LIMIT ?)",
                    (t_now, self.SWEEP_BATCH),
                )
            db.execute("COMMIT")
            return False
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    async def check_and_add_async(
        self, key_id: str, input_digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        """:meth:`check_and_add` in the cache's worker thread; the loop keeps running meanwhile.

        Raises :class:`ReplayCacheUnavailable` at once when ``max_queue`` checks are already
        waiting. Cancelling the await (a timeout of the caller) withdraws a check not yet started.
        """
        if self._queued == 0:
            seen = self._check_in_place(key_id, input_digest, expires.timestamp(), now.timestamp())
            if seen is not None:
                return seen
        if self._queued >= self.max_queue:
            raise ReplayCacheUnavailable(
                f"replay cache {self.path}: {self._queued} checks already waiting (locked?)"
            )
        self._queued += 1
        try:
            future = self._worker().submit(self.check_and_add, key_id, input_digest, expires, now)
            return await asyncio.wrap_future(future)
        finally:
            self._queued -= 1

    def _check_in_place(
        self, key_id: str, digest: bytes, t_exp: float, t_now: float
    ) -> bool | None:
        """The check on the caller's thread if the write lock is free at once; None otherwise."""
        if not self._fast_lock.acquire(blocking=False):
            return None
        try:
            db = self._fast
            if db is None:
                db = self._fast = sqlite3.connect(
                    self.path, timeout=0, isolation_level=None, check_same_thread=False
                )
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run in the worker
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return None  # locked: the worker thread waits for it, within the caller's bound
            try:
                seen = _seen_or_recorded(db, key_id, digest, t_exp, t_now)
                db.execute("COMMIT")
                if seen:
                    return True
            except sqlite3.Error:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                return None  # let the worker try (and report) it
            self._writes += 1
            if self._writes % self.SWEEP_EVERY == 0:
                self._maintain(t_now)
            return False
        finally:
            self._fast_lock.release()

    def _maintain(self, t_now: float) -> None:
        """Sweep expired entries and checkpoint the WAL, in the worker thread."""
        self._worker().submit(self._sweep, t_now)

    def _worker(self) -> concurrent.futures.ThreadPoolExecutor:
        """The cache's one worker thread (started on first use)."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="ocpp-e2e-replay"
            )
        return self._executor

    def _sweep(self, t_now: float) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "DELETE FROM replay WHERE rowid IN "
                    "(SELECT rowid FROM replay WHERE expires < ? LIMIT ?)",
                    (t_now, self.SWEEP_BATCH),
                )
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:  # busy: the next sweep catches up
                pass

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM replay").fetchone()[0])

    def close(self) -> None:
        """Close the file (waits for a check in progress in the worker thread)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        with self._fast_lock:
            if self._fast is not None:
                self._fast.close()
                self._fast = None
        with self._lock:
            self._db.close()
