"""SPEC §4 replay caches: keyed by key id and the SHA-256 of the signing input, never by value.

An entry lives until timestamp + maxSignatureAge + clockSkew; after that the freshness check refuses
the signature anyway. ``mode: enforce`` needs a cache that survives restarts:
:class:`SQLiteReplayCache` (one file, safe for several processes).
"""

from __future__ import annotations

import heapq
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Protocol


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

    def __len__(self) -> int:
        return len(self._entries)


class SQLiteReplayCache:
    """A replay cache in one SQLite file; survives restarts and is shared by processes."""

    survives_restart = True

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL keeps every commit across a crash of the process (the restart SPEC §4
        # is about) and skips the fsync per signature; only a power cut can lose the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS replay (key_id TEXT NOT NULL, digest BLOB NOT NULL, "
            "expires REAL NOT NULL, PRIMARY KEY (key_id, digest))"
        )
        self._writes = 0

    def check_and_add(
        self, key_id: str, input_digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        t_now = now.timestamp()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT expires FROM replay WHERE key_id = ? AND digest = ?",
                    (key_id, input_digest),
                ).fetchone()
                if row is not None and row[0] >= t_now:
                    self._db.execute("COMMIT")
                    return True
                self._db.execute(
                    "INSERT OR REPLACE INTO replay (key_id, digest, expires) VALUES (?, ?, ?)",
                    (key_id, input_digest, expires.timestamp()),
                )
                self._writes += 1
                if self._writes % 1000 == 0:
                    self._db.execute("DELETE FROM replay WHERE expires < ?", (t_now,))
                self._db.execute("COMMIT")
                return False
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._db.close()
