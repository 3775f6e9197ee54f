"""The station's ticket ledger: one SQLite file of challenges and sessions (SPEC §6).

The ledger is what makes an offline station say "used once" and "at most ``maxSessions``" and
mean it: across restarts (it is a file) and across processes verifying at the same moment (every
decision that reads and then writes runs in one ``BEGIN IMMEDIATE`` transaction, so SQLite's
write lock serializes them and the second process sees the first one's session).

>>> import tempfile, pathlib
>>> from datetime import UTC, datetime
>>> with TicketLedger(pathlib.Path(tempfile.mkdtemp()) / "ledger.sqlite") as ledger:
...     challenge = ledger.issue_challenge("cs-0001", now=datetime(2026, 5, 1, 12, tzinfo=UTC))
>>> len(challenge.value)
43
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from .._b64 import b64url_encode
from ..context import same_identity
from ..errors import LedgerError
from .model import TicketLimits, TicketVerdict, format_timestamp

__all__ = [
    "CHALLENGE_MAX_AGE",
    "CHALLENGE_RETENTION",
    "Challenge",
    "Redemption",
    "TicketLedger",
    "Usage",
]

#: SPEC §6: a challenge is at most 60 s old when the presentation over it is verified.
CHALLENGE_MAX_AGE = timedelta(seconds=60)
#: Challenges are kept this long after issue; an older one is forgotten ("unknown", still refused).
CHALLENGE_RETENTION = timedelta(days=1)
_CHALLENGE_BYTES = 32
_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS challenges (
    challenge  TEXT PRIMARY KEY,
    station_id TEXT NOT NULL,
    issued_ms  INTEGER NOT NULL,
    used_ms    INTEGER
);
CREATE INDEX IF NOT EXISTS challenges_issued ON challenges (issued_ms);
CREATE TABLE IF NOT EXISTS sessions (
    session_id    TEXT PRIMARY KEY,
    issuer_key_id TEXT NOT NULL,
    ticket_id     TEXT NOT NULL,
    station_id    TEXT NOT NULL,
    evse_id       TEXT NOT NULL,
    challenge     TEXT NOT NULL,
    started_ms    INTEGER NOT NULL,
    energy_wh     INTEGER NOT NULL DEFAULT 0,
    cost          TEXT NOT NULL DEFAULT '0',
    currency      TEXT
);
CREATE INDEX IF NOT EXISTS sessions_ticket ON sessions (issuer_key_id, ticket_id);
"""


def _ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise LedgerError(f"time {moment.isoformat()} has no time zone; give an aware datetime")
    return int(moment.timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True)
class Challenge:
    """A challenge a station issued: ``value`` goes to the holder, who signs over it."""

    value: str
    station_id: str
    issued_at: datetime

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready view."""
        return {
            "challenge": self.value,
            "stationId": self.station_id,
            "issuedAt": format_timestamp(self.issued_at),
        }


@dataclass(frozen=True)
class Usage:
    """What one ticket has used at this station so far (sessions, reported energy and cost)."""

    sessions: int
    energy_wh: int
    cost: Decimal


@dataclass(frozen=True)
class Redemption:
    """The ledger's part of a decision: the verdict, its reason, and the session when accepted.

    ``usage`` is the ticket's usage after this redemption (including the new session when
    accepted); it is None when the challenge was refused before the ticket was looked at.
    """

    verdict: TicketVerdict
    reason: str
    session_id: str | None = None
    usage: Usage | None = None


class TicketLedger:
    """One SQLite file holding a station's challenges and the sessions used per ticket.

    Sessions are counted per (issuer key fingerprint, ``ticketId``): two issuers cannot collide by
    picking the same ticket id. Open it once per process; it is safe to open the same file from
    several processes at once.
    """

    def __init__(self, path: Path | str, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
            self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: cannot open the ticket ledger ({exc})") from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            with self._transaction():
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, _SCHEMA_VERSION):
                    raise LedgerError(
                        f"{self.path}: ledger schema version {version}, this ocpp-e2e reads "
                        f"version {_SCHEMA_VERSION}; use a matching ocpp-e2e"
                    )
                if version == 0:
                    tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                    if tables:
                        raise LedgerError(
                            f"{self.path}: an SQLite file that is not a ticket ledger"
                        )
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise LedgerError(f"{self.path}: not a usable ticket ledger ({exc})") from exc
        except LedgerError:
            self._db.close()
            raise

    # -- lifecycle

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> TicketLedger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock before the first read, so two processes cannot both
        # read "one session left" and both write: the second waits, then reads the first's write.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- challenges

    def issue_challenge(self, station_id: str, *, now: datetime) -> Challenge:
        """Create, record and return a fresh random challenge for ``station_id``.

        Challenges older than :data:`CHALLENGE_RETENTION` are forgotten here.
        """
        value = b64url_encode(secrets.token_bytes(_CHALLENGE_BYTES))
        try:
            with self._transaction() as db:
                db.execute(
                    "DELETE FROM challenges WHERE issued_ms < ?", (_ms(now - CHALLENGE_RETENTION),)
                )
                db.execute(
                    "INSERT INTO challenges (challenge, station_id, issued_ms) VALUES (?, ?, ?)",
                    (value, station_id, _ms(now)),
                )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: cannot record the challenge ({exc})") from exc
        return Challenge(value, station_id, _from_ms(_ms(now)))

    # -- redemption

    def redeem(
        self,
        *,
        challenge: str,
        station_id: str,
        evse_id: str,
        issuer_key_id: str,
        ticket_id: str,
        limits: TicketLimits,
        now: datetime,
    ) -> Redemption:
        """Spend ``challenge`` and, when the ticket's limits allow, start a session, atomically.

        The challenge must have been issued by this ledger for ``station_id``, be unused and at
        most :data:`CHALLENGE_MAX_AGE` old; it is marked used whatever the limits say (a refused
        presentation still spent its challenge). Then the ticket must have sessions, energy and
        cost left.
        """
        now_ms = _ms(now)
        try:
            with self._transaction() as db:
                row = db.execute(
                    "SELECT station_id, issued_ms, used_ms FROM challenges WHERE challenge = ?",
                    (challenge,),
                ).fetchone()
                refused = _challenge_refusal(row, station_id=station_id, now_ms=now_ms)
                if refused is not None:
                    return refused
                db.execute(
                    "UPDATE challenges SET used_ms = ? WHERE challenge = ?", (now_ms, challenge)
                )
                usage = self._usage(db, issuer_key_id, ticket_id)
                exhausted = _limit_refusal(usage, limits)
                if exhausted is not None:
                    verdict, reason = exhausted
                    return Redemption(verdict, reason, usage=usage)
                session_id = b64url_encode(secrets.token_bytes(16))
                db.execute(
                    "INSERT INTO sessions (session_id, issuer_key_id, ticket_id, station_id,"
                    " evse_id, challenge, started_ms, currency) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        session_id,
                        issuer_key_id,
                        ticket_id,
                        station_id,
                        evse_id,
                        challenge,
                        now_ms,
                        limits.max_cost.currency if limits.max_cost else None,
                    ),
                )
                after = Usage(usage.sessions + 1, usage.energy_wh, usage.cost)
                return Redemption(
                    TicketVerdict.ACCEPTED,
                    f"session {after.sessions} of {limits.max_sessions} started",
                    session_id=session_id,
                    usage=after,
                )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: ledger transaction failed ({exc})") from exc

    # -- usage reports

    def record_usage(
        self,
        session_id: str,
        *,
        energy_wh: int,
        cost: Decimal | None = None,
        currency: str | None = None,
    ) -> None:
        """Record the energy (Wh) and cost a session has consumed so far (absolute, not a delta).

        Later sessions of the same ticket are refused once the sum reaches ``maxEnergyWh`` or
        ``maxCost``. A cost in another currency than the ticket's ``maxCost`` is refused.
        """
        if energy_wh < 0:
            raise LedgerError(f"session {session_id}: energy must not be negative, got {energy_wh}")
        if cost is not None and (not cost.is_finite() or cost < 0):
            raise LedgerError(
                f"session {session_id}: cost must be a non-negative number, got {cost}"
            )
        try:
            with self._transaction() as db:
                row = db.execute(
                    "SELECT currency FROM sessions WHERE session_id = ?", (session_id,)
                ).fetchone()
                if row is None:
                    raise LedgerError(f"{self.path}: no session {session_id} in this ledger")
                if cost is not None:
                    if row[0] is None:
                        raise LedgerError(
                            f"session {session_id}: its ticket has no maxCost; record energy only"
                        )
                    if currency != row[0]:
                        raise LedgerError(
                            f"session {session_id}: cost is in {currency}, "
                            f"the ticket's maxCost in {row[0]}"
                        )
                db.execute(
                    "UPDATE sessions SET energy_wh = ?, cost = ? WHERE session_id = ?",
                    (energy_wh, str(cost if cost is not None else Decimal(0)), session_id),
                )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: cannot record usage ({exc})") from exc

    def usage(self, issuer_key_id: str, ticket_id: str) -> Usage:
        """What the ticket (issuer key fingerprint, ``ticketId``) has used at this station."""
        try:
            return self._usage(self._db, issuer_key_id, ticket_id)
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: cannot read usage ({exc})") from exc

    @staticmethod
    def _usage(db: sqlite3.Connection, issuer_key_id: str, ticket_id: str) -> Usage:
        rows = db.execute(
            "SELECT energy_wh, cost FROM sessions WHERE issuer_key_id = ? AND ticket_id = ?",
            (issuer_key_id, ticket_id),
        ).fetchall()
        # Costs are exact decimals stored as text; summing them in SQL would go through doubles.
        return Usage(
            sessions=len(rows),
            energy_wh=sum(int(r[0]) for r in rows),
            cost=sum((Decimal(r[1]) for r in rows), Decimal(0)),
        )


def _challenge_refusal(
    row: tuple[str, int, int | None] | None, *, station_id: str, now_ms: int
) -> Redemption | None:
    if row is None:
        return Redemption(
            TicketVerdict.UNKNOWN_CHALLENGE,
            "this station did not issue the challenge (or issued it more than a day ago)",
        )
    issued_for, issued_ms, used_ms = row
    if not same_identity(issued_for, station_id):
        return Redemption(
            TicketVerdict.UNKNOWN_CHALLENGE,
            f"the challenge was issued for station {issued_for!r}, not {station_id!r}",
        )
    if used_ms is not None:
        return Redemption(
            TicketVerdict.REPLAYED,
            f"the challenge was already used at {format_timestamp(_from_ms(used_ms))}",
        )
    age_ms = now_ms - issued_ms
    limit_ms = int(CHALLENGE_MAX_AGE.total_seconds() * 1000)
    if age_ms < 0:
        return Redemption(
            TicketVerdict.STALE_CHALLENGE,
            "the challenge is dated after the station's current time (its clock went back)",
        )
    if age_ms > limit_ms:
        return Redemption(
            TicketVerdict.STALE_CHALLENGE,
            f"the challenge is {age_ms / 1000:.3f} s old; at most {limit_ms // 1000} s are allowed",
        )
    return None


def _limit_refusal(usage: Usage, limits: TicketLimits) -> tuple[TicketVerdict, str] | None:
    if usage.sessions >= limits.max_sessions:
        return (
            TicketVerdict.SESSIONS_EXHAUSTED,
            f"all {limits.max_sessions} session(s) of this ticket are used at this station",
        )
    if limits.max_energy_wh is not None and usage.energy_wh >= limits.max_energy_wh:
        return (
            TicketVerdict.ENERGY_EXHAUSTED,
            f"{usage.energy_wh} Wh used of maxEnergyWh {limits.max_energy_wh}",
        )
    if limits.max_cost is not None and usage.cost >= limits.max_cost.amount:
        return (
            TicketVerdict.COST_EXHAUSTED,
            f"{usage.cost} {limits.max_cost.currency} used of maxCost {limits.max_cost.amount}",
        )
    return None
