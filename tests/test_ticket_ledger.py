"""The station's ticket ledger: used once, at most maxSessions, across restarts and processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_ticket_support import T0, demo_signer, issue, make_station, present

from ocpp_e2e.errors import LedgerError
from ocpp_e2e.tickets import TicketLedger, TicketLimits, TicketVerdict


def _verify_in_child(
    ledger_path: str, presentation: dict[str, Any], barrier: Any, results: Any
) -> None:
    # A separate process with its own connection, as a second verifier on the same station.
    station = make_station(Path(ledger_path))
    barrier.wait()
    decision = station.verifier.verify(presentation, now=T0)
    results.put(decision.verdict.value)
    station.ledger.close()


def test_two_processes_racing_for_the_last_session_exactly_one_wins(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for round_ in range(3):
        path = tmp_path / f"ledger-{round_}.sqlite"
        station = make_station(path)
        issued = issue(limits=TicketLimits(max_sessions=2))
        assert station.verifier.verify(present(issued, station.challenge()), now=T0).accepted
        bodies = [present(issued, station.challenge()) for _ in range(2)]
        station.ledger.close()
        barrier = ctx.Barrier(2)
        results = ctx.Queue()
        procs = [
            ctx.Process(target=_verify_in_child, args=(str(path), body, barrier, results))
            for body in bodies
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=60)
            assert proc.exitcode == 0
        verdicts = sorted(results.get(timeout=5) for _ in procs)
        assert verdicts == ["accepted", "sessions-exhausted"]
        rows = sqlite3.connect(path).execute("SELECT count(*) FROM sessions").fetchone()
        assert rows == (2,)


def test_spent_challenge_stays_spent_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    station = make_station(path)
    issued = issue()
    body = present(issued, station.challenge())
    assert station.verifier.verify(body, now=T0).accepted
    station.ledger.close()
    restarted = make_station(path)
    decision = restarted.verifier.verify(body, now=T0 + timedelta(seconds=5))
    assert decision.verdict is TicketVerdict.REPLAYED


def test_sessions_used_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    station = make_station(path)
    issued = issue(limits=TicketLimits(max_sessions=1))
    assert station.verifier.verify(present(issued, station.challenge()), now=T0).accepted
    station.ledger.close()
    restarted = make_station(path)
    decision = restarted.verifier.verify(present(issued, restarted.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.SESSIONS_EXHAUSTED


def test_challenge_issued_before_a_restart_can_be_redeemed_after_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    station = make_station(path)
    challenge = station.challenge()
    station.ledger.close()
    restarted = make_station(path)
    decision = restarted.verifier.verify(
        present(issue(), challenge), now=T0 + timedelta(seconds=30)
    )
    assert decision.verdict is TicketVerdict.ACCEPTED


def test_challenges_older_than_a_day_are_forgotten_and_refused_as_unknown(tmp_path: Path) -> None:
    station = make_station(tmp_path / "ledger.sqlite")
    old = station.challenge(at=T0 - timedelta(days=2))
    station.challenge(at=T0)  # issuing purges the old one
    decision = station.verifier.verify(present(issue(), old), now=T0)
    assert decision.verdict is TicketVerdict.UNKNOWN_CHALLENGE


def test_challenge_dated_after_the_station_clock_is_stale(tmp_path: Path) -> None:
    station = make_station(tmp_path / "ledger.sqlite")
    challenge = station.challenge(at=T0 + timedelta(minutes=10))
    decision = station.verifier.verify(present(issue(), challenge), now=T0)
    assert decision.verdict is TicketVerdict.STALE_CHALLENGE
    assert "clock went back" in decision.reason


def test_challenge_is_base64url_of_32_random_bytes(tmp_path: Path) -> None:
    with TicketLedger(tmp_path / "ledger.sqlite") as ledger:
        a = ledger.issue_challenge("cs-0001", now=T0)
        b = ledger.issue_challenge("cs-0001", now=T0)
    assert len(a.value) == 43 and a.value != b.value
    assert a.to_dict() == {
        "challenge": a.value,
        "stationId": "cs-0001",
        "issuedAt": "2030-06-01T12:00:00.000Z",
    }


def test_sqlite_file_of_another_application_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match="an SQLite file that is not a ticket ledger"):
        TicketLedger(path)


def test_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match="not a usable ticket ledger"):
        TicketLedger(path)


def test_usage_of_unknown_session_is_refused(tmp_path: Path) -> None:
    with (
        TicketLedger(tmp_path / "ledger.sqlite") as ledger,
        pytest.raises(LedgerError, match="no session nope in this ledger"),
    ):
        ledger.record_usage("nope", energy_wh=1)


def test_cost_in_another_currency_than_max_cost_is_refused(tmp_path: Path) -> None:
    from ocpp_e2e.tickets import Money

    station = make_station(tmp_path / "ledger.sqlite")
    issued = issue(limits=TicketLimits(max_sessions=2, max_cost=Money(Decimal("10"), "EUR")))
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.session_id is not None
    with pytest.raises(LedgerError, match="cost is in CHF, the ticket's maxCost in EUR"):
        station.ledger.record_usage(
            decision.session_id, energy_wh=1, cost=Decimal(1), currency="CHF"
        )


def test_usage_is_absolute_per_session_and_summed_per_ticket(tmp_path: Path) -> None:
    station = make_station(tmp_path / "ledger.sqlite")
    issued = issue(limits=TicketLimits(max_sessions=3, max_energy_wh=50000))
    ids = []
    for _ in range(2):
        decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
        assert decision.session_id is not None and decision.issuer_key_id is not None
        ids.append(decision.session_id)
    station.ledger.record_usage(ids[0], energy_wh=1000)
    station.ledger.record_usage(ids[0], energy_wh=4000)  # a later reading replaces the earlier
    station.ledger.record_usage(ids[1], energy_wh=2500)
    usage = station.ledger.usage(demo_signer("ticket-issuer").key_id, issued.ticket["ticketId"])
    assert (usage.sessions, usage.energy_wh) == (2, 6500)
