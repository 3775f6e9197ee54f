"""Review findings on verify.py: hostile timestamps at the edges of the calendar get a verdict."""

from __future__ import annotations

from datetime import UTC, datetime

from ocpp_e2e.keys import Keyring, KeySigner, generate_private_key
from ocpp_e2e.model import Outcome
from ocpp_e2e.replay import MemoryReplayCache
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.verify import Verifier

HEARTBEAT = '[2,"1","Heartbeat",{}]'
LAST_SECOND = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
FIRST_DAY = datetime(1, 1, 1, 0, 0, 10, tzinfo=UTC)


def _signed_at(when: datetime) -> tuple[Keyring, str]:
    key = generate_private_key()
    ring = Keyring()
    ring.add(key.public_key(), name="ops-1")
    text = sign_frame(HEARTBEAT, KeySigner(key), ocpp="2.0.1", station="cs-1", timestamp=when)
    return ring, text


def test_signature_dated_at_the_end_of_the_calendar_with_a_replay_cache_is_valid() -> None:
    ring, text = _signed_at(LAST_SECOND)
    verifier = Verifier(ring, replay_cache=MemoryReplayCache())
    result = verifier.verify_frame(text, ocpp="2.0.1", station="cs-1", now=LAST_SECOND)
    assert [s.outcome for s in result.verification.signatures] == [Outcome.VALID]


def test_signature_dated_at_the_end_of_the_calendar_seen_twice_is_replayed() -> None:
    ring, text = _signed_at(LAST_SECOND)
    verifier = Verifier(ring, replay_cache=MemoryReplayCache())
    verifier.verify_frame(text, ocpp="2.0.1", station="cs-1", now=LAST_SECOND)
    again = verifier.verify_frame(text, ocpp="2.0.1", station="cs-1", now=LAST_SECOND)
    assert [s.outcome for s in again.verification.signatures] == [Outcome.REPLAYED]


def test_signature_from_the_far_future_at_the_start_of_the_calendar_is_expired() -> None:
    ring, text = _signed_at(LAST_SECOND)
    result = Verifier(ring).verify_frame(text, ocpp="2.0.1", station="cs-1", now=FIRST_DAY)
    sig = result.verification.signatures[0]
    assert sig.outcome is Outcome.EXPIRED
    assert sig.reason.startswith("signed at 9999-12-31T23:59:59.000Z, later than now")


def test_the_signer_pads_years_before_1000_so_its_own_timestamps_stay_well_formed() -> None:
    from datetime import UTC, datetime

    from ocpp_e2e._time import SPEC_TIMESTAMP, format_timestamp

    text = format_timestamp(datetime(1, 1, 1, tzinfo=UTC))
    assert text == "0001-01-01T00:00:00.000Z"
    assert SPEC_TIMESTAMP.fullmatch(text) is not None
