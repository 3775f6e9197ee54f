"""Transaction checks across verified OCMF records of one meter (OCMF rev. 1.2)."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ocpp_e2e.meter import (
    MeterCheck,
    MeterKeyring,
    MeterVerdict,
    MeterVerifier,
    RecordVerification,
    TransactionChecker,
)
from ocpp_e2e.meter.sign import sign_payload

KEY = ec.generate_private_key(ec.SECP256R1())
RING = MeterKeyring()
RING.add(KEY.public_key(), name="meter")
VERIFIER = MeterVerifier(RING)


def reading(minute: int, tx: str | None, value: float | None, **extra: str) -> dict:
    out: dict = {"TM": f"2024-05-01T10:{minute:02d}:00,000+0200 {extra.pop('ts', 'S')}"}
    if tx is not None:
        out["TX"] = tx
    if value is not None:
        out["RV"] = value
    out.update({"RI": "1-b:1.8.0", "RU": "kWh", "ST": "G"})
    out.update(extra)
    return out


def signed(pg: str, *readings: dict, ms: str = "M-1", where: str = "r") -> RecordVerification:
    payload = json.dumps(
        {"GS": "GW", "PG": pg, "MS": ms, "RD": list(readings)}, separators=(",", ":")
    )
    result = VERIFIER.verify_text(sign_payload(payload, KEY), where=where)
    assert result.verdict is MeterVerdict.VALID
    return result


def checks(
    *results: RecordVerification, finish: bool = True
) -> list[tuple[MeterCheck, str, str | None]]:
    checker = TransactionChecker()
    out = []
    for r in results:
        out += checker.feed(r)
    if finish:
        out += checker.finish()
    return [(f.check, f.where, f.pagination) for f in out]


def test_complete_transaction_has_no_findings():
    assert (
        checks(
            signed("T1", reading(0, "B", 10.0)),
            signed("T2", reading(15, "C", 12.5)),
            signed("T3", reading(30, "E", 15.0)),
        )
        == []
    )


def test_begin_and_end_in_one_record_has_no_findings():
    assert checks(signed("T1", reading(0, "B", 10.0), reading(30, "E", 15.0))) == []


def test_consecutive_transactions_share_one_pagination_counter():
    assert (
        checks(
            signed("T1", reading(0, "B", 1.0)),
            signed("T2", reading(5, "E", 2.0)),
            signed("T3", reading(10, "B", 2.0)),
            signed("T4", reading(15, "E", 3.0)),
        )
        == []
    )


def test_pagination_gap_names_the_record_after_the_gap():
    found = checks(
        signed("T1", reading(0, "B", 1.0)), signed("T3", reading(5, "E", 2.0), where="line 2")
    )
    assert found == [(MeterCheck.PAGINATION_GAP, "line 2", "T3")]


def test_pagination_gap_reason_counts_missing_records():
    checker = TransactionChecker()
    checker.feed(signed("T1", reading(0, "B", 1.0)))
    (finding,) = checker.feed(signed("T5", reading(5, "E", 2.0)))
    assert finding.reason == "T5 follows T1: 3 record(s) missing"


def test_repeated_pagination_is_reported_and_its_readings_left_out():
    begin = signed("T1", reading(0, "B", 1.0))
    found = checks(begin, begin, signed("T2", reading(5, "E", 2.0)))
    assert found == [(MeterCheck.PAGINATION_REPEAT, "r", "T1")]


def test_pagination_going_backwards_is_a_repeat():
    found = checks(
        signed("T5", reading(0, "B", 1.0)),
        signed("T4", reading(5, "C", 1.5), where="old"),
        signed("T6", reading(10, "E", 2.0)),
    )
    assert found == [(MeterCheck.PAGINATION_REPEAT, "old", "T4")]


def test_fiscal_and_transaction_contexts_count_separately():
    assert (
        checks(
            signed("T1", reading(0, "B", 1.0)),
            signed("F1", reading(1, None, 1.1)),
            signed("T2", reading(5, "E", 2.0)),
            signed("F2", reading(6, None, 2.1)),
        )
        == []
    )


def test_meters_are_checked_separately():
    assert (
        checks(
            signed("T1", reading(0, "B", 1.0), ms="M-1"),
            signed("T9", reading(0, "B", 7.0), ms="M-2"),
            signed("T2", reading(5, "E", 2.0), ms="M-1"),
            signed("T10", reading(5, "E", 8.0), ms="M-2"),
        )
        == []
    )


def test_end_without_begin_is_begin_missing():
    found = checks(signed("T2", reading(5, "E", 2.0)))
    assert found == [(MeterCheck.BEGIN_MISSING, "r", "T2")]


def test_intermediate_without_begin_is_begin_missing():
    checker = TransactionChecker()
    (finding,) = checker.feed(signed("T2", reading(5, "C", 2.0)))
    assert (finding.check, finding.reason) == (
        MeterCheck.BEGIN_MISSING,
        "intermediate reading (TX C) without a begin",
    )


def test_second_begin_before_an_end_is_begin_repeated():
    found = checks(
        signed("T1", reading(0, "B", 1.0), where="first"),
        signed("T2", reading(5, "B", 2.0), where="second"),
        signed("T3", reading(9, "E", 3.0)),
    )
    assert found == [(MeterCheck.BEGIN_REPEATED, "second", "T2")]


def test_transaction_without_end_is_reported_by_finish():
    found = checks(signed("T1", reading(0, "B", 1.0), where="begin"))
    assert found == [(MeterCheck.END_MISSING, "begin", "T1")]


def test_finish_reports_an_open_transaction_once():
    checker = TransactionChecker()
    checker.feed(signed("T1", reading(0, "B", 1.0)))
    assert len(checker.finish()) == 1
    assert checker.finish() == []


def test_end_earlier_than_begin_is_time_backwards():
    found = checks(
        signed("T1", reading(30, "B", 1.0)), signed("T2", reading(10, "E", 2.0), where="end")
    )
    assert found == [(MeterCheck.TIME_BACKWARDS, "end", "T2")]


def test_reading_earlier_than_previous_is_time_backwards():
    found = checks(
        signed("T1", reading(0, "B", 1.0)),
        signed("T2", reading(20, "C", 2.0)),
        signed("T3", reading(10, "E", 3.0), where="end"),
    )
    assert found == [(MeterCheck.TIME_BACKWARDS, "end", "T3")]


def test_end_value_below_begin_value_is_value_backwards():
    checker = TransactionChecker()
    checker.feed(signed("T1", reading(0, "B", 10.0)))
    (finding,) = checker.feed(signed("T2", reading(5, "E", 9.5)))
    assert finding.check is MeterCheck.VALUE_BACKWARDS
    assert finding.reason == "value 9.5 is below 10.0 of the previous reading (T1)"


def test_meter_status_other_than_good_is_reported_per_reading():
    checker = TransactionChecker()
    findings = checker.feed(signed("T1", reading(0, "B", 1.0), reading(5, "E", 2.0, ST="M")))
    assert [(f.check, f.reading) for f in findings] == [(MeterCheck.METER_STATUS, 1)]
    assert findings[0].reason == "meter status 'M', not G (OCMF Table 10)"


def test_unit_change_within_a_transaction_is_unit_inconsistent():
    found = checks(
        signed("T1", reading(0, "B", 1000.0, RU="Wh")), signed("T2", reading(5, "E", 2.0))
    )
    assert found == [(MeterCheck.UNIT_INCONSISTENT, "r", "T2")]


def test_unit_outside_the_ocmf_table_is_unit_unknown():
    found = checks(signed("T1", reading(0, "B", 1.0, RU="MJ"), reading(5, "E", 2.0, RU="MJ")))
    assert found == [(MeterCheck.UNIT_UNKNOWN, "r", "T1"), (MeterCheck.UNIT_UNKNOWN, "r", "T1")]


def test_error_flags_are_reported():
    checker = TransactionChecker()
    (finding,) = checker.feed(signed("T1", reading(0, "B", 1.0, EF="E")))
    assert finding.check is MeterCheck.ERROR_FLAGS


def test_exception_reading_is_transaction_error():
    found = checks(
        signed("T1", reading(0, "B", 1.0)),
        signed("T2", reading(5, "X", 1.5)),
        signed("T3", reading(9, "E", 2.0)),
    )
    assert found == [(MeterCheck.TRANSACTION_ERROR, "r", "T2")]


@pytest.mark.parametrize("letter", ["A", "P"])
def test_end_by_abort_or_power_failure_closes_the_transaction_with_an_error(letter):
    found = checks(signed("T1", reading(0, "B", 1.0)), signed("T2", reading(5, letter, 1.5)))
    assert found == [(MeterCheck.TRANSACTION_ERROR, "r", "T2")]


@pytest.mark.parametrize("letter", ["L", "R"])
def test_end_locally_or_remotely_closes_the_transaction(letter):
    assert checks(signed("T1", reading(0, "B", 1.0)), signed("T2", reading(5, letter, 1.5))) == []


def test_unsynchronized_time_is_reported():
    found = checks(signed("T1", reading(0, "B", 1.0, ts="U"), reading(5, "E", 2.0)))
    assert found == [(MeterCheck.TIME_NOT_SYNCHRONIZED, "r", "T1")]


def test_record_that_did_not_verify_is_left_out_with_a_finding():
    bad = VERIFIER.verify_text(
        sign_payload(
            '{"PG":"T1","MS":"M-1","RD":[{"TM":"2024-05-01T10:00:00,000+0200 S","TX":"B",'
            '"RV":1,"RU":"kWh","ST":"G"}]}',
            KEY,
        ).replace('"RV":1', '"RV":2'),
        where="line 4",
    )
    checker = TransactionChecker()
    (finding,) = checker.feed(bad)
    assert (finding.check, finding.where) == (MeterCheck.RECORD_NOT_VERIFIED, "line 4")
    assert checker.finish() == []  # its begin did not count


def test_valid_untrusted_record_is_left_out_unless_allowed():
    other = ec.generate_private_key(ec.SECP256R1())
    payload = (
        '{"PG":"T1","MS":"M-1","RD":[{"TM":"2024-05-01T10:00:00,000+0200 S","TX":"B",'
        '"RV":1,"RU":"kWh","ST":"G"}]}'
    )
    from cryptography.hazmat.primitives import serialization

    der = other.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    result = VERIFIER.verify_text(sign_payload(payload, other), embedded_key=der.hex())
    assert result.verdict is MeterVerdict.VALID_UNTRUSTED
    assert [f.check for f in TransactionChecker().feed(result)] == [MeterCheck.RECORD_NOT_VERIFIED]
    lenient = TransactionChecker(require_trusted=False)
    assert lenient.feed(result) == []
    assert [f.check for f in lenient.finish()] == [MeterCheck.END_MISSING]


def test_finding_to_dict_has_stable_names():
    checker = TransactionChecker()
    (finding,) = checker.feed(signed("T2", reading(5, "E", 2.0), where="line 9"))
    assert finding.to_dict() == {
        "check": "begin-missing",
        "severity": "note",
        "reason": "end reading (TX E) without a begin",
        "meter": "GW/M-1",
        "where": "line 9",
        "pagination": "T2",
        "reading": 0,
    }


def test_billed_energy_is_end_minus_begin_with_the_unit():
    checker = TransactionChecker()
    for r in (
        signed("T1", reading(0, "B", 10.25)),
        signed("T2", reading(15, "C", 12.5)),
        signed("T3", reading(30, "E", 15.0)),
    ):
        checker.feed(r)
    (billed,) = checker.billed
    assert (str(billed.energy), billed.unit, str(billed.energy_wh)) == ("4.75", "kWh", "4750.00")
    assert billed.to_dict()["energyWh"] == "4750"
    assert (billed.begin_pagination, billed.end_pagination) == ("T1", "T3")


def test_no_energy_is_billed_for_a_transaction_without_its_end():
    checker = TransactionChecker()
    checker.feed(signed("T1", reading(0, "B", 10.0)))
    assert checker.billed == ()


def test_several_registers_in_one_begin_and_one_end_record_are_one_transaction():
    second = {"RI": "1-b:2.8.0"}
    found = checks(
        signed("T1", reading(0, "B", 10.0), {"RV": 1.0, **second}),
        signed("T2", reading(30, "E", 15.0), {"RV": 1.5, **second}),
    )
    assert found == []
    checker = TransactionChecker()
    checker.feed(signed("T1", reading(0, "B", 10.0), {"RV": 1.0, **second}))
    checker.feed(signed("T2", reading(30, "E", 15.0), {"RV": 1.5, **second}))
    assert [(b.register, str(b.energy)) for b in checker.billed] == [
        ("1-b:1.8.0", "5.0"),
        ("1-b:2.8.0", "0.5"),
    ]


def test_single_record_findings_are_notes_and_warnings_not_failures():
    checker = TransactionChecker()
    found = checker.feed(signed("T5", reading(0, "E", 2.0, ts="U"))) + checker.finish()
    assert {(f.check, f.severity.value) for f in found} == {
        (MeterCheck.TIME_NOT_SYNCHRONIZED, "warning"),
        (MeterCheck.BEGIN_MISSING, "note"),
    }


def test_contradictions_between_records_are_failures():
    found = TransactionChecker().feed(signed("T1", reading(0, "B", 10.0)))
    checker = TransactionChecker()
    checker.feed(signed("T1", reading(0, "B", 10.0)))
    found = checker.feed(signed("T2", reading(5, "E", 9.0)))
    assert [(f.check, f.severity.value) for f in found] == [(MeterCheck.VALUE_BACKWARDS, "failure")]
