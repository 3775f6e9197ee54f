"""OCPP-J frames (OCPP-J 1.6 §4, OCPP 2.0.1/2.1 Part 4 §4): message types, ids, actions,
payloads, error codes per version, SecurityError, and pairing responses with their CALL."""

from __future__ import annotations

import pytest

from ocpp_e2e.context import (
    CallTracker,
    PendingCall,
    frame_context,
    frame_signing_payload,
    normalize_station,
    request_digest,
    signing_payload,
    station_from_url_path,
    structure_context,
)
from ocpp_e2e.errors import FrameError, IJSONError, InputError
from ocpp_e2e.frames import (
    MessageType,
    call_error,
    dumps_frame,
    parse_frame,
    security_error,
)
from ocpp_e2e.model import Direction, Kind
from ocpp_e2e.versions import VERSIONS

ERROR_CODES_OF = {v: p.error_codes for v, p in VERSIONS.items()}


def frame_refused(data: str, ocpp: str = "2.0.1") -> FrameError:
    with pytest.raises(FrameError) as info:
        parse_frame(data, ocpp=ocpp)
    return info.value


# --------------------------------------------------------------------------- message types


def test_call_frame() -> None:
    frame = parse_frame('[2, "19223201", "BootNotification", {"reason": "PowerUp"}]')
    assert frame.type is MessageType.CALL and frame.is_call and not frame.is_response
    assert (frame.message_id, frame.action, frame.payload) == (
        "19223201",
        "BootNotification",
        {"reason": "PowerUp"},
    )


def test_callresult_frame() -> None:
    frame = parse_frame('[3, "19223201", {"status": "Accepted"}]')
    assert frame.type is MessageType.CALLRESULT and frame.is_response
    assert frame.action is None and frame.payload == {"status": "Accepted"}


def test_callerror_frame_has_the_error_object_as_payload() -> None:
    frame = parse_frame('[4, "1", "SecurityError", "refused", {"reason": "x"}]')
    assert frame.type is MessageType.CALLERROR and frame.is_response
    assert frame.error_code == "SecurityError" and frame.error_description == "refused"
    assert frame.error_details == {"reason": "x"}
    assert frame.payload == {
        "errorCode": "SecurityError",
        "errorDescription": "refused",
        "errorDetails": {"reason": "x"},
    }


def test_callresulterror_exists_in_21() -> None:
    frame = parse_frame('[5, "1", "InternalError", "oops", {}]', ocpp="2.1")
    assert frame.type is MessageType.CALLRESULTERROR and frame.is_response


def test_send_exists_in_21() -> None:
    frame = parse_frame(
        '[6, "1", "NotifyPeriodicEventStream", {"id": 1, "pending": 0, "basetime": "2026-01-01T00:00:00Z", "data": []}]',
        ocpp="2.1",
    )
    assert frame.type is MessageType.SEND and frame.is_call


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
@pytest.mark.parametrize(
    "text", ['[5, "1", "InternalError", "x", {}]', '[6, "1", "Heartbeat", {}]']
)
def test_types_5_and_6_exist_only_in_21(ocpp: str, text: str) -> None:
    err = frame_refused(text, ocpp)
    assert "exists only in OCPP 2.1" in err.reason and err.where == "$[0]"


@pytest.mark.parametrize("mtype", ["1", "7", "0", "2.0", '"2"', "true", "null"])
def test_unknown_message_type_is_refused(mtype: str) -> None:
    err = frame_refused(f'[{mtype}, "1", "Heartbeat", {{}}]')
    assert "unknown message type" in err.reason and err.where == "$[0]"


@pytest.mark.parametrize(
    ("text", "count"),
    [('[2, "1", "Heartbeat"]', 3), ('[3, "1", {}, {}]', 4), ('[4, "1", "GenericError", "x"]', 4)],
)
def test_wrong_element_count_is_refused(text: str, count: int) -> None:
    assert f"this one has {count}" in frame_refused(text).reason


@pytest.mark.parametrize("text", ["{}", "[]", '"frame"', "2"])
def test_a_frame_is_a_non_empty_array(text: str) -> None:
    assert "non-empty JSON array" in frame_refused(text).reason


def test_unknown_ocpp_version_is_refused() -> None:
    with pytest.raises(FrameError, match=r"unknown OCPP version '1\.5'"):
        parse_frame('[2, "1", "Heartbeat", {}]', ocpp="1.5")


def test_frame_text_goes_through_the_strict_reader() -> None:
    with pytest.raises(IJSONError, match="duplicate member"):
        parse_frame('[2, "1", "Heartbeat", {"a": 1, "a": 2}]')


def test_truncated_frame_is_an_input_error() -> None:
    with pytest.raises(IJSONError, match="truncated"):
        parse_frame('[2, "1", "Heartbeat", {')


# --------------------------------------------------------------------------- message ids and actions


def test_message_id_of_36_characters_is_accepted() -> None:
    assert parse_frame(f'[2, "{"a" * 36}", "Heartbeat", {{}}]').message_id == "a" * 36


def test_message_id_of_37_characters_is_refused() -> None:
    err = frame_refused(f'[2, "{"a" * 37}", "Heartbeat", {{}}]')
    assert "37 characters; at most 36" in err.reason and err.where == "$[1]"


@pytest.mark.parametrize("mid", ["1", "null", '""', "[]"])
def test_message_id_must_be_a_non_empty_string(mid: str) -> None:
    assert "non-empty string" in frame_refused(f'[2, {mid}, "Heartbeat", {{}}]').reason


@pytest.mark.parametrize(
    "action", ['""', '"Heart beat"', '"1Heartbeat"', '"Heart-beat"', "7", '"' + "A" * 65 + '"']
)
def test_bad_action_names_are_refused(action: str) -> None:
    err = frame_refused(f'[2, "1", {action}, {{}}]')
    assert "action" in err.reason and err.where == "$[2]"


@pytest.mark.parametrize(
    "action", ["Heartbeat", "Get15118EVCertificate", "AFRRSignal", "DataTransfer"]
)
def test_real_action_names_are_accepted(action: str) -> None:
    assert parse_frame(f'[2, "1", "{action}", {{}}]').action == action


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[2, "1", "Heartbeat", []]', "$[3]"),
        ('[3, "1", "ok"]', "$[2]"),
        ('[4, "1", "GenericError", "x", []]', "$[4]"),
    ],
)
def test_payload_must_be_an_object(text: str, where: str) -> None:
    err = frame_refused(text)
    assert "JSON object" in err.reason and err.where == where


def test_error_description_must_be_a_string() -> None:
    assert "description must be a string" in frame_refused('[4, "1", "GenericError", 5, {}]').reason


# --------------------------------------------------------------------------- error codes


def test_16_error_codes_keep_the_16_spellings() -> None:
    assert {"FormationViolation", "OccurenceConstraintViolation"} <= ERROR_CODES_OF["1.6"]
    assert "FormatViolation" not in ERROR_CODES_OF["1.6"]
    parse_frame('[4, "1", "FormationViolation", "", {}]', ocpp="1.6")


def test_2x_error_codes() -> None:
    for ocpp in ("2.0.1", "2.1"):
        assert {
            "FormatViolation",
            "OccurrenceConstraintViolation",
            "RpcFrameworkError",
            "MessageTypeNotSupported",
            "SecurityError",
        } <= ERROR_CODES_OF[ocpp]
        parse_frame('[4, "1", "RpcFrameworkError", "", {}]', ocpp=ocpp)


@pytest.mark.parametrize(
    ("ocpp", "code"),
    [
        ("1.6", "FormatViolation"),
        ("1.6", "RpcFrameworkError"),
        ("2.0.1", "FormationViolation"),
        ("2.0.1", "OccurenceConstraintViolation"),
        ("2.1", "Nope"),
    ],
)
def test_error_code_of_another_version_is_refused(ocpp: str, code: str) -> None:
    err = frame_refused(f'[4, "1", "{code}", "", {{}}]', ocpp)
    assert f"unknown OCPP {ocpp} error code" in err.reason and err.where == "$[2]"


def test_security_error_tells_the_peer_why() -> None:
    frame = security_error("42", "no valid signature of role grid-operator", {"rule": "grid-limit"})
    assert frame == [
        4,
        "42",
        "SecurityError",
        "no valid signature of role grid-operator",
        {"reason": "no valid signature of role grid-operator", "rule": "grid-limit"},
    ]
    for ocpp in ("1.6", "2.0.1", "2.1"):
        assert parse_frame(dumps_frame(frame), ocpp=ocpp).error_code == "SecurityError"


def test_security_error_description_is_cut_to_255_characters() -> None:
    frame = security_error("1", "x" * 400)
    assert len(frame[3]) == 255 and frame[4]["reason"] == "x" * 400


def test_call_error_builder() -> None:
    assert call_error("7", "NotImplemented", "no") == [4, "7", "NotImplemented", "no", {}]


def test_dumps_frame_keeps_utf8_characters() -> None:
    assert (
        dumps_frame([2, "1", "DataTransfer", {"vendorId": "é"}])
        == '[2,"1","DataTransfer",{"vendorId":"é"}]'
    )


# --------------------------------------------------------------------------- contexts (SPEC §3)


def test_request_context() -> None:
    assert frame_context("2.0.1", "CS-0001", "Reset", Kind.REQUEST) == {
        "ocpp": "2.0.1",
        "station": "cs-0001",
        "action": "Reset",
        "kind": "request",
    }


def test_response_context_needs_the_request_digest() -> None:
    with pytest.raises(InputError, match="needs the digest"):
        frame_context("2.0.1", "cs", "Reset", Kind.RESPONSE)
    assert frame_context("2.0.1", "cs", "Reset", "response", "R")["request"] == "R"


def test_context_refuses_an_unknown_version() -> None:
    with pytest.raises(InputError, match="unknown OCPP version"):
        frame_context("3.0", "cs", "Reset", Kind.REQUEST)


def test_structure_context() -> None:
    assert structure_context("Tariff") == {"type": "Tariff"}
    with pytest.raises(InputError, match="unknown structure type"):
        structure_context("Invoice")


def test_station_identity_is_ascii_lowercased_only() -> None:
    assert normalize_station("CS-ÄÖ-0001") == "cs-ÄÖ-0001"


def test_station_identity_is_percent_decoded_from_the_url() -> None:
    assert normalize_station(station_from_url_path("RDAM%20123")) == "rdam 123"


def test_signing_payload_drops_signatures_and_the_bare_vendor_custom_data() -> None:
    obj = {"type": "Immediate", "customData": {"vendorId": "org.ocpp-e2e", "signatures": [{}]}}
    assert signing_payload(obj) == {"type": "Immediate"}


def test_signing_payload_keeps_other_custom_data() -> None:
    obj = {"a": 1, "customData": {"vendorId": "com.acme", "x": 2, "signatures": [{}]}}
    assert signing_payload(obj) == {"a": 1, "customData": {"vendorId": "com.acme", "x": 2}}


def test_signing_payload_drops_top_level_signatures() -> None:
    assert signing_payload({"a": 1, "signatures": [{}]}) == {"a": 1}


def test_signing_payload_of_an_error_drops_the_signatures_of_its_details() -> None:
    frame = parse_frame('[4, "1", "SecurityError", "no", {"reason": "r", "signatures": [{}]}]')
    assert frame_signing_payload(frame) == {
        "errorCode": "SecurityError",
        "errorDescription": "no",
        "errorDetails": {"reason": "r"},
    }


def test_request_digest_ignores_signatures_member_order_and_whitespace() -> None:
    a = parse_frame('[2, "1", "Reset", {"type": "Immediate", "evseId": 1}]')
    b = parse_frame(
        '[2,"99","Reset",{"evseId":1,"type":"Immediate","customData":{"vendorId":"org.ocpp-e2e","signatures":[]}}]'
    )
    assert request_digest(a) == request_digest(b)
    assert len(request_digest(a)) == 43


def test_request_digest_changes_with_the_payload() -> None:
    a = parse_frame('[2, "1", "Reset", {"type": "Immediate"}]')
    b = parse_frame('[2, "1", "Reset", {"type": "OnIdle"}]')
    assert request_digest(a) != request_digest(b)


def test_only_a_call_has_a_request_digest() -> None:
    with pytest.raises(InputError, match="only a CALL"):
        request_digest(parse_frame('[3, "1", {}]'))


# --------------------------------------------------------------------------- CallTracker


def test_tracker_pairs_a_response_with_its_call() -> None:
    tracker = CallTracker()
    call = parse_frame('[2, "1", "Reset", {"type": "Immediate"}]')
    assert tracker.observe(call, "CS-1", Direction.TO_STATION) is None
    pending = tracker.observe(
        parse_frame('[3, "1", {"status": "Accepted"}]'), "cs-1", Direction.TO_CSMS
    )
    assert pending == PendingCall.of(call)
    assert pending is not None and pending.action == "Reset"


def test_tracker_forgets_a_call_once_answered() -> None:
    tracker = CallTracker()
    tracker.observe(parse_frame('[2, "1", "Heartbeat", {}]'), "cs-1", Direction.TO_CSMS)
    assert tracker.observe(parse_frame('[3, "1", {}]'), "cs-1", Direction.TO_STATION) is not None
    assert tracker.observe(parse_frame('[3, "1", {}]'), "cs-1", Direction.TO_STATION) is None


def test_tracker_keeps_stations_and_directions_apart() -> None:
    tracker = CallTracker()
    reset = parse_frame('[2, "7", "Reset", {"type": "Immediate"}]')
    boot = parse_frame('[2, "7", "BootNotification", {"reason": "PowerUp"}]')
    heartbeat = parse_frame('[2, "7", "Heartbeat", {}]')
    tracker.observe(reset, "cs-1", Direction.TO_STATION)  # CSMS -> cs-1
    tracker.observe(boot, "cs-1", Direction.TO_CSMS)  # cs-1 -> CSMS, same id
    tracker.observe(heartbeat, "cs-2", Direction.TO_CSMS)  # another station, same id
    result = parse_frame('[3, "7", {}]')
    # A response travelling to the CSMS answers the CSMS's CALL, and vice versa.
    answered_by_station = tracker.observe(result, "cs-1", Direction.TO_CSMS)
    answered_by_csms = tracker.observe(result, "cs-1", Direction.TO_STATION)
    answered_on_cs2 = tracker.observe(result, "cs-2", Direction.TO_STATION)
    assert answered_by_station is not None and answered_by_station.action == "Reset"
    assert answered_by_csms is not None and answered_by_csms.action == "BootNotification"
    assert answered_on_cs2 is not None and answered_on_cs2.action == "Heartbeat"


def test_tracker_does_not_pair_a_response_travelling_the_same_way_as_the_call() -> None:
    tracker = CallTracker()
    tracker.observe(
        parse_frame('[2, "1", "Reset", {"type": "Immediate"}]'), "cs-1", Direction.TO_STATION
    )
    assert tracker.observe(parse_frame('[3, "1", {}]'), "cs-1", Direction.TO_STATION) is None


def test_tracker_pairs_errors_too() -> None:
    tracker = CallTracker()
    tracker.observe(
        parse_frame('[2, "1", "Reset", {"type": "Immediate"}]'), "cs-1", Direction.TO_STATION
    )
    pending = tracker.observe(
        parse_frame('[4, "1", "NotSupported", "", {}]'), "cs-1", Direction.TO_CSMS
    )
    assert pending is not None and pending.action == "Reset"


def test_tracker_interleaved_calls_on_one_connection() -> None:
    tracker = CallTracker()
    for i, action in enumerate(["Reset", "GetVariables", "SetVariables"]):
        tracker.observe(parse_frame(f'[2, "{i}", "{action}", {{}}]'), "cs-1", Direction.TO_STATION)
    assert [p.action for p in tracker.pending("cs-1", Direction.TO_STATION)] == [
        "Reset",
        "GetVariables",
        "SetVariables",
    ]
    second = tracker.observe(parse_frame('[3, "1", {}]'), "cs-1", Direction.TO_CSMS)
    first = tracker.observe(parse_frame('[3, "0", {}]'), "cs-1", Direction.TO_CSMS)
    assert second is not None and second.action == "GetVariables"
    assert first is not None and first.action == "Reset"
    assert [p.action for p in tracker.pending("cs-1", Direction.TO_STATION)] == ["SetVariables"]


def test_tracker_forgets_the_oldest_calls_beyond_its_limit() -> None:
    tracker = CallTracker(limit=2)
    for i in range(3):
        tracker.observe(parse_frame(f'[2, "{i}", "Heartbeat", {{}}]'), "cs-1", Direction.TO_CSMS)
    assert tracker.observe(parse_frame('[3, "0", {}]'), "cs-1", Direction.TO_STATION) is None
    assert tracker.observe(parse_frame('[3, "2", {}]'), "cs-1", Direction.TO_STATION) is not None


def test_tracker_ignores_send() -> None:
    tracker = CallTracker()
    send = parse_frame('[6, "1", "NotifyPeriodicEventStream", {}]', ocpp="2.1")
    assert tracker.observe(send, "cs-1", Direction.TO_CSMS) is None
    assert tracker.pending("cs-1", Direction.TO_CSMS) == []


def test_tracker_pairs_a_callresulterror_with_the_answered_call_it_reports_on() -> None:
    # OCPP 2.1: the CALL's sender reports a CALLRESULT it cannot process; the error travels the
    # CALL's way, after the CALLRESULT settled the CALL.
    tracker = CallTracker()
    call = parse_frame('[2, "1", "Reset", {"type": "Immediate"}]', ocpp="2.1")
    tracker.observe(call, "cs-1", Direction.TO_STATION)
    tracker.observe(
        parse_frame('[3, "1", {"status": "Bogus"}]', ocpp="2.1"), "cs-1", Direction.TO_CSMS
    )
    error = parse_frame('[5, "1", "FormatViolation", "bad status", {}]', ocpp="2.1")
    assert tracker.observe(error, "cs-1", Direction.TO_STATION) == PendingCall.of(call)
    assert tracker.observe(error, "cs-1", Direction.TO_STATION) is None  # reported once


def test_tracker_refuses_a_callresulterror_against_the_calls_direction_or_before_a_result() -> None:
    tracker = CallTracker()
    tracker.observe(parse_frame('[2, "1", "Reset", {}]', ocpp="2.1"), "cs-1", Direction.TO_STATION)
    error = parse_frame('[5, "1", "FormatViolation", "", {}]', ocpp="2.1")
    assert tracker.observe(error, "cs-1", Direction.TO_STATION) is None  # no CALLRESULT yet
    tracker.observe(parse_frame('[3, "1", {}]', ocpp="2.1"), "cs-1", Direction.TO_CSMS)
    assert tracker.observe(error, "cs-1", Direction.TO_CSMS) is None  # the wrong way


def test_tracker_does_not_keep_calls_answered_by_a_callerror() -> None:
    tracker = CallTracker()
    tracker.observe(parse_frame('[2, "1", "Reset", {}]', ocpp="2.1"), "cs-1", Direction.TO_STATION)
    tracker.observe(
        parse_frame('[4, "1", "NotSupported", "", {}]', ocpp="2.1"), "cs-1", Direction.TO_CSMS
    )
    error = parse_frame('[5, "1", "FormatViolation", "", {}]', ocpp="2.1")
    assert tracker.observe(error, "cs-1", Direction.TO_STATION) is None


def test_the_call_tracker_keeps_request_digests_not_parsed_frames() -> None:
    # Memory bounded by the number of pending CALLs, not by their size (SPEC §3 needs only R).
    from ocpp_e2e.context import CallTracker, PendingCall
    from ocpp_e2e.model import Direction

    tracker = CallTracker(limit=4)
    big = '[2,"%d","DataTransfer",{"vendorId":"x","data":"' + "y" * 30000 + '"}]'
    for i in range(6):
        tracker.observe(parse_frame(big % i), "cs-1", Direction.TO_CSMS)
    kept = [v for queue in tracker._pending.values() for v in queue.values()]
    assert len(kept) == 4
    assert all(type(v) is PendingCall for v in kept)
    answer = tracker.observe(
        parse_frame('[3,"5",{"status":"Accepted"}]'), "cs-1", Direction.TO_STATION
    )
    assert answer == PendingCall.of(parse_frame(big % 5))
