"""Totality of the OCMF reader and verifier: any input gives a verdict or MeterRecordError."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpp_e2e.errors import MeterRecordError, OcppE2EError
from ocpp_e2e.meter import MeterKeyring, MeterVerifier, parse_record
from ocpp_e2e.tariffs.fromlog import LoggedFrame, sessions_from_frames

REAL = Path(__file__).parent / "data" / "meter" / "real"
SEEDS = sorted(p.read_text("utf-8") for p in REAL.glob("*.ocmf"))
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VERIFIER = MeterVerifier(MeterKeyring())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=20,
)


def _total(text: str | bytes) -> None:
    with contextlib.suppress(MeterRecordError):
        parse_record(text)
    VERIFIER.verify_text(text)  # a verdict, never an exception


@FAST
@given(st.sampled_from(SEEDS), st.integers(min_value=0, max_value=2000), st.text(max_size=6))
def test_real_records_with_any_splice_give_a_verdict_or_the_project_error(
    seed: str, at: int, insert: str
) -> None:
    at = at % (len(seed) + 1)
    _total(seed[:at] + insert + seed[at:])


@FAST
@given(st.sampled_from(SEEDS), st.integers(min_value=0, max_value=2000), st.binary(max_size=4))
def test_real_records_with_any_bytes_give_a_verdict_or_the_project_error(
    seed: str, at: int, insert: bytes
) -> None:
    raw = seed.encode()
    at = at % (len(raw) + 1)
    _total(raw[:at] + insert + raw[at:])


@FAST
@given(json_values, json_values)
def test_any_json_sections_give_a_verdict_or_the_project_error(
    payload: object, sig: object
) -> None:
    _total(f"OCMF|{json.dumps(payload)}|{json.dumps(sig)}")


@FAST
@given(
    st.dictionaries(st.sampled_from(["TM", "TX", "RV", "RI", "RU", "ST", "EF", "XX"]), json_values)
)
def test_any_reading_gives_a_verdict_or_the_project_error(reading: dict[str, object]) -> None:
    payload = {"PG": "T1", "MS": "m", "RD": [reading, {"RV": 1}]}
    _total(f'OCMF|{json.dumps(payload)}|{{"SD":"3006020101020101"}}')


@FAST
@given(json_values)
def test_any_transaction_event_gives_sessions_or_the_project_error(payload: object) -> None:
    frames = [
        LoggedFrame(
            None, "toCSMS", "2.0.1", json.dumps([2, "1", "TransactionEvent", payload]), "l1"
        ),
        LoggedFrame(None, "toCSMS", "1.6", json.dumps([2, "2", "MeterValues", payload]), "l2"),
        LoggedFrame(None, "toCSMS", "1.6", json.dumps([2, "3", "StopTransaction", payload]), "l3"),
    ]
    with contextlib.suppress(OcppE2EError):
        sessions_from_frames(frames)
