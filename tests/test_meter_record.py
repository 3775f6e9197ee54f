"""Parsing OCMF records: sections, payload fields and the signature section (OCMF rev. 1.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ocpp_e2e.errors import MeterRecordError
from ocpp_e2e.meter import parse_record
from ocpp_e2e.meter.record import parse_time

SIG = '{"SD":"3006020101020101"}'


def rec(payload: str, sig: str = SIG) -> str:
    return f"OCMF|{payload}|{sig}"


def payload(
    rd: str = '[{"TM":"2024-05-01T10:00:00,000+0200 S","TX":"B","RV":1,"RU":"kWh","ST":"G"}]',
    extra: str = "",
) -> str:
    return '{"PG":"T1","MS":"M-1"' + extra + ',"RD":' + rd + "}"


def error(text: str | bytes) -> str:
    with pytest.raises(MeterRecordError) as info:
        parse_record(text, where="line 3")
    return str(info.value)


def test_payload_bytes_are_the_exact_section_between_the_separators():
    text = rec("  " + payload() + "\n")
    assert parse_record(text).payload_bytes == ("  " + payload() + "\n").encode()


def test_non_ascii_payload_bytes_are_utf8_of_the_section():
    p = payload(extra=',"GI":"Zähler"')
    assert parse_record(rec(p)).payload_bytes == p.encode("utf-8")


def test_record_given_as_bytes_parses_like_text():
    assert parse_record(rec(payload()).encode()).payload["MS"] == "M-1"


def test_missing_header_is_refused():
    assert error("ocmf|{}|{}") == 'line 3: does not start with the OCMF header "OCMF|"'


def test_leading_whitespace_before_header_is_refused():
    assert "OCMF header" in error(" " + rec(payload()))


def test_payload_that_is_not_json_is_refused():
    assert error("OCMF|{nope}|" + SIG).startswith("line 3: payload section is not JSON:")


def test_missing_signature_section_is_refused():
    assert error("OCMF|" + payload()) == (
        "line 3: payload section must be followed by '|' and the signature section"
    )


def test_text_after_the_signature_object_is_refused():
    assert error(rec(payload(), SIG + "|extra")).startswith(
        "line 3: signature section is not one JSON object:"
    )


def test_duplicate_payload_member_is_refused():
    assert error(rec('{"PG":"T1","PG":"T2","MS":"M","RD":[]}')) == (
        "line 3: payload section: duplicate member 'PG'"
    )


def test_duplicate_signature_member_is_refused():
    assert error(rec(payload(), '{"SD":"00","SD":"01"}')) == (
        "line 3: signature section: duplicate member 'SD'"
    )


def test_payload_array_instead_of_object_is_refused():
    assert error(rec("[1]")) == "line 3: payload section must be a JSON object"


def test_nan_in_payload_is_refused():
    assert "payload section is not JSON" in error(rec(payload().replace('"RV":1', '"RV":NaN')))


def test_unknown_signature_member_is_kept_with_a_note():
    notes = parse_record(rec(payload(), '{"SD":"00","PK":"abc"}')).notes
    assert any("member 'PK' is neither in OCMF Table 8" in n for n in notes)


def test_vendor_extension_signature_member_is_accepted():
    assert parse_record(rec(payload(), '{"SD":"3006020101020101","XV":"vendor"}')).signature


def test_missing_sd_is_refused():
    assert error(rec(payload(), '{"SA":"ECDSA-secp256r1-SHA256"}')) == (
        "line 3: signature section: SD (the signature data) is missing"
    )


def test_odd_length_hex_sd_is_refused():
    assert "SD is not hex" in error(rec(payload(), '{"SD":"300"}'))


def test_non_canonical_base64_sd_is_refused():
    assert "SD: not" in error(rec(payload(), '{"SE":"base64","SD":"MAZ="}'))


def test_unknown_signature_encoding_is_refused():
    assert "SE 'base32' is not supported" in error(rec(payload(), '{"SE":"base32","SD":"00"}'))


def test_signature_mime_type_other_than_der_is_refused():
    assert "SM 'application/x-raw' is not supported" in error(
        rec(payload(), '{"SM":"application/x-raw","SD":"00"}')
    )


def test_pagination_with_leading_zero_is_read_without_pagination():
    record = parse_record(rec(payload().replace('"T1"', '"T01"')))
    assert record.pagination is None
    assert any("PG 'T01' is not T or F and a counter" in n for n in record.notes)


def test_pagination_with_unknown_context_is_read_without_pagination():
    assert parse_record(rec(payload().replace('"T1"', '"X1"'))).pagination_counter is None


def test_missing_meter_serial_is_noted_and_the_gateway_names_the_meter():
    record = parse_record(rec(payload().replace('"MS":"M-1"', '"GS":"G-7"')))
    assert record.meter_serial is None and record.meter == "G-7/"
    assert any("identified by GS 'G-7'" in n for n in record.notes)


def test_empty_readings_are_refused():
    assert "RD must be a non-empty array" in error(rec(payload(rd="[]")))


def test_unknown_reading_member_is_kept_with_a_note():
    rd = '[{"TM":"2024-05-01T10:00:00,000+0200 S","RV":1,"RU":"kWh","ST":"G","QQ":1,"XI":"v"}]'
    record = parse_record(rec(payload(rd=rd)))
    assert dict(record.readings[0].extra) == {"QQ": 1, "XI": "v"}
    assert "RD[0]: member(s) QQ, XI kept (not in OCMF Table 7; not vendor initials)" in record.notes


def test_reading_value_as_numeric_string_is_the_exact_decimal():
    rd = '[{"TM":"2024-05-01T10:00:00,000+0200 S","RV":"00001.250","RU":"kWh","ST":"G"}]'
    assert parse_record(rec(payload(rd=rd))).readings[0].value == Decimal("1.250")


def test_reading_value_as_non_numeric_string_is_refused():
    bad = '[{"TM":"2024-05-01T10:00:00,000+0200 S","RV":"1 kWh","RU":"kWh","ST":"G"}]'
    assert "RV '1 kWh' is not a number" in error(rec(payload(rd=bad)))


@pytest.mark.parametrize("rv", ["1e999999999", "1e-99999", "1E31", '"2e40"'])
def test_reading_value_beyond_any_meter_range_is_refused(rv):
    bad = '[{"TM":"2024-05-01T10:00:00,000+0200 S","RV":' + rv + ',"RU":"kWh","ST":"G"}]'
    assert "outside any meter's range" in error(rec(payload(rd=bad)))


def test_reading_value_with_exponent_is_read_exactly():
    rd = '[{"TM":"2024-05-01T10:00:00,000+0200 S","RV":1.606848e7,"RU":"Wh","ST":"G"}]'
    assert parse_record(rec(payload(rd=rd))).readings[0].value == Decimal("16068480")


def test_deep_nesting_inside_the_payload_is_refused_with_the_project_error():
    deep = "[" * 100_000 + "]" * 100_000
    assert "nested deeper than 32 levels" in error(rec(payload(extra=',"XV":' + deep)))


def test_deep_nesting_inside_the_signature_section_is_refused():
    deep = '{"SD":"00","XA":' + "[" * 50_000 + "]" * 50_000 + "}"
    assert "nested deeper" in error(rec(payload(), deep))


def test_brackets_inside_strings_do_not_count_as_nesting():
    p = payload(extra=',"XV":"' + "[" * 100 + '"')
    assert parse_record(rec(p)).vendor_members == {"XV": "[" * 100}


def test_reading_without_time_takes_the_previous_readings_time():
    rd = (
        '[{"TM":"2024-05-01T10:00:00,000+0200 S","RV":1,"RU":"kWh","ST":"G"},'
        '{"RV":0,"RI":"1-b:2.8.0"}]'
    )
    record = parse_record(rec(payload(rd=rd)))
    assert record.readings[1].time == record.readings[0].time
    assert "RD[1]: no TM; the previous reading's time applies" in record.notes


def test_reading_without_status_is_noted():
    rd = '[{"TM":"2024-05-01T10:00:00,000+0200 S","RV":1,"RU":"kWh"}]'
    record = parse_record(rec(payload(rd=rd)))
    assert record.readings[0].status is None
    assert "RD[0]: no ST (meter status, OCMF Table 10)" in record.notes


def test_unknown_transaction_letter_is_refused():
    bad = '[{"TM":"2024-05-01T10:00:00,000+0200 S","TX":"Q","RV":1,"RU":"kWh","ST":"G"}]'
    assert "TX 'Q' is not an OCMF Table 7 letter" in error(rec(payload(rd=bad)))


@pytest.mark.parametrize(
    "tm",
    ["2024-05-01T10:00:00.000+02:00 S", "2024-05-01T08:00:00Z S", "2024-05-01T10:00:00+0200"],
)
def test_time_variants_are_read_with_a_note(tm):
    rd = '[{"TM":"' + tm + '","RV":1,"RU":"kWh","ST":"G"}]'
    record = parse_record(rec(payload(rd=rd)))
    assert record.readings[0].time == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert any("departs from" in n for n in record.notes)


def test_time_that_is_no_time_is_refused():
    bad = '[{"TM":"yesterday","RV":1,"RU":"kWh","ST":"G"}]'
    assert "is not <YYYY-MM-DD>" in error(rec(payload(rd=bad)))


def test_time_with_impossible_date_is_refused():
    bad = '[{"TM":"2024-02-30T10:00:00,000+0200 S","RV":1,"RU":"kWh","ST":"G"}]'
    assert "day is out of range" in error(rec(payload(rd=bad)))


def test_omitted_reading_fields_carry_over_from_the_previous_reading():
    rd = (
        '[{"TM":"2024-05-01T10:00:00,000+0200 S","TX":"B","RV":1.50,"RI":"1-b:1.8.0","RU":"kWh",'
        '"ST":"G"},{"TM":"2024-05-01T10:15:00,000+0200 S","TX":"C","RV":2},'
        '{"TM":"2024-05-01T10:30:00,000+0200 S","RV":3},'
        '{"TM":"2024-05-01T10:45:00,000+0200 S","TX":"E","RV":4}]'
    )
    readings = parse_record(rec(payload(rd=rd))).readings
    assert [r.transaction for r in readings] == ["B", "C", "C", "E"]
    assert {r.unit for r in readings} == {"kWh"} and {r.identification for r in readings} == {
        "1-b:1.8.0"
    }
    assert readings[0].value == Decimal("1.50") and str(readings[0].value) == "1.50"


def test_time_is_parsed_with_offset_and_status():
    when, status = parse_time("2018-07-24T13:22:04,123-0130 R")
    assert when == datetime(2018, 7, 24, 14, 52, 4, 123000, tzinfo=UTC)
    assert status == "R"


def test_meter_identity_combines_gateway_and_meter_serial():
    record = parse_record(rec(payload(extra=',"GS":"GW-9"')))
    assert record.meter == "GW-9/M-1"
    assert (record.pagination_context, record.pagination_counter) == ("T", 1)
