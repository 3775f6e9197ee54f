"""Where a station's time goes when it decides on a ticket presentation (SPEC §6).

Measures, in one run and on the same presentations: the issuer check alone (ticket signature and
certificate chain, ``verify_ticket``), the full offline decision with the ledger transaction
(``TicketVerifier.verify``: two signatures, scope, challenge, session insert with fsync), and
issuing a challenge. Prints per-operation times and ratios.

    .venv/bin/python benchmarks/bench_tickets.py [--count 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_ticket_support import T0, demo_validator, issue, make_station, present

from ocpp_e2e.tickets import TicketLimits, verify_ticket


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        station = make_station(Path(tmp) / "ledger.sqlite")
        issued = issue(limits=TicketLimits(max_sessions=args.count + 1))
        validator = demo_validator()

        start = time.perf_counter()
        challenges = [station.challenge(T0) for _ in range(args.count)]
        t_challenge = (time.perf_counter() - start) / args.count

        bodies = [present(issued, c) for c in challenges]
        start = time.perf_counter()
        for _ in range(args.count):
            assert verify_ticket(issued.ticket, validator, now=T0).ok
        t_issuer = (time.perf_counter() - start) / args.count

        start = time.perf_counter()
        for body in bodies:
            assert station.verifier.verify(body, now=T0 + timedelta(seconds=1)).accepted
        t_full = (time.perf_counter() - start) / args.count
        station.ledger.close()

    print(f"presentations:             {args.count}")
    print(f"issue a challenge:         {t_challenge * 1e3:8.3f} ms")
    print(f"issuer check alone:        {t_issuer * 1e3:8.3f} ms")
    print(f"full decision (+ ledger):  {t_full * 1e3:8.3f} ms")
    print(f"full / issuer check:       {t_full / t_issuer:8.2f}x")
    print(f"full / challenge:          {t_full / t_challenge:8.2f}x")


if __name__ == "__main__":
    main()
