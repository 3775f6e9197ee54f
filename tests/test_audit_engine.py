"""The audit engine: one test per finding kind, pairing, and the policy's part in each finding."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ocpp_e2e.audit.engine import FrameAuditor, FrameResult
from ocpp_e2e.audit.findings import Severity
from ocpp_e2e.audit.logs import LogRecord
from ocpp_e2e.audit.run import AuditSettings, build_auditor
from ocpp_e2e.keys import KeySigner, generate_private_key, public_key_to_pem
from ocpp_e2e.model import Direction
from ocpp_e2e.sign import sign_frame

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
OPS = KeySigner(generate_private_key("Ed25519"))
STATION = KeySigner(generate_private_key("Ed25519"))
STRANGER = KeySigner(generate_private_key("Ed25519"))
TO_CS, TO_CSMS = Direction.TO_STATION, Direction.TO_CSMS


def _pem(signer: KeySigner) -> str:
    from ocpp_e2e.keys import load_spki

    return public_key_to_pem(load_spki(signer.public_key_der)).decode("ascii")


POLICY = {
    "type": "SignaturePolicy",
    "id": "audit-test",
    "version": 1,
    "default": "deny",
    "maxSignatureAge": "PT5M",
    "clockSkew": "PT30S",
    "keys": [
        {"publicKey": _pem(OPS), "name": "ops-1", "roles": ["csms-admin"]},
        {"publicKey": _pem(STATION), "name": "cs-0001", "roles": ["station"]},
    ],
    "rules": [
        {
            "id": "liveness",
            "effect": "permit",
            "match": {"actions": ["Heartbeat"]},
            "signers": "none",
        },
        {
            "id": "reset",
            "effect": "permit",
            "match": {"actions": ["Reset"], "kinds": ["request"]},
            "signers": {"roles": ["csms-admin"]},
        },
        {"id": "answers", "effect": "permit", "match": {"kinds": ["response"]}, "signers": "none"},
        {
            "id": "no-immediate-reset",
            "effect": "forbid",
            "match": {"actions": ["Reset"]},
            "where": [{"path": "type", "op": "eq", "value": "Immediate"}],
        },
    ],
}


@pytest.fixture
def auditor(tmp_path: Path) -> FrameAuditor:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    return build_auditor(AuditSettings(policy=str(path), csms_identity="csms-1", now=datetime.now(UTC)))


def _rec(
    frame: str, at: datetime = T0, direction: Direction = TO_CS, station: str = "cs-0001"
) -> LogRecord:
    return LogRecord("log.jsonl", 1, at, station, direction, "2.0.1", frame)


def _reset(
    kind: str = "OnIdle",
    mid: str = "1",
    at: datetime = T0,
    signer: KeySigner = OPS,
    destination: str | None = None,
) -> str:
    return sign_frame(
        f'[2,"{mid}","Reset",{{"type":"{kind}"}}]',
        signer,
        ocpp="2.0.1",
        station="cs-0001",
        timestamp=at,
        destination=destination,
    )


def _kinds(result: FrameResult) -> list[str]:
    return [f.kind.value for f in result.findings]


# --------------------------------------------------------------------------- policy findings


def test_a_permitted_signed_frame_has_no_finding(auditor: FrameAuditor) -> None:
    result = auditor.audit(0, _rec(_reset()))
    assert (result.verdict, result.findings, result.signers) == ("permit-signed", (), ("ops-1",))


def test_unsigned_frame_where_the_policy_wants_signers_is_unsigned_required(
    auditor: FrameAuditor,
) -> None:
    result = auditor.audit(0, _rec('[2,"1","Reset",{"type":"OnIdle"}]'))
    assert _kinds(result) == ["unsigned-required"]
    finding = result.findings[0]
    assert finding.severity is Severity.ERROR and finding.decision == "deny"
    assert "rule reset: needs 1 signer holding role csms-admin" in finding.detail


def test_forbidden_frame_is_denied_with_the_rule(auditor: FrameAuditor) -> None:
    result = auditor.audit(0, _rec(_reset("Immediate")))
    assert _kinds(result) == ["denied"]
    assert result.findings[0].rule == "no-immediate-reset"
    assert result.findings[0].signers == ("ops-1",)


def test_unsigned_forbidden_frame_is_denied_not_unsigned_required(auditor: FrameAuditor) -> None:
    result = auditor.audit(0, _rec('[2,"1","Reset",{"type":"Immediate"}]'))
    assert _kinds(result) == ["denied"]


def test_unsigned_frame_that_needs_no_signature_is_fine(auditor: FrameAuditor) -> None:
    result = auditor.audit(0, _rec('[2,"h","Heartbeat",{}]', direction=TO_CSMS))
    assert (result.verdict, result.findings) == ("permit-unsigned", ())


# --------------------------------------------------------------------------- signature findings


def test_tampered_frame_is_invalid_and_critical(auditor: FrameAuditor) -> None:
    tampered = _reset().replace('"OnIdle"', '"OnIdlE"')
    result = auditor.audit(0, _rec(tampered))
    assert _kinds(result) == ["invalid"]
    assert result.findings[0].severity is Severity.CRITICAL
    assert result.verdict == "deny"


def test_signature_of_a_key_outside_the_keyring_is_unknown_signer(auditor: FrameAuditor) -> None:
    result = auditor.audit(0, _rec(_reset(signer=STRANGER)))
    assert _kinds(result) == ["unknown-signer"]
    # the frame is also denied (no counted signer), so the warning is raised to an error
    assert result.findings[0].severity is Severity.ERROR
    assert "is not in the keyring" in result.findings[0].detail


def test_the_same_signed_frame_again_within_the_window_is_replayed(auditor: FrameAuditor) -> None:
    first = _reset()
    again = first.replace('[2,"1"', '[2,"2"', 1)
    assert auditor.audit(0, _rec(first)).findings == ()
    result = auditor.audit(1, _rec(again, T0 + timedelta(seconds=30)))
    assert _kinds(result) == ["replayed"]
    assert result.findings[0].message_id == "2"


def test_signature_older_than_max_age_is_stale(auditor: FrameAuditor) -> None:
    result = auditor.audit(0, _rec(_reset(at=T0 - timedelta(minutes=10))))
    assert _kinds(result) == ["stale-timestamp"]


def test_signature_from_the_future_is_future_timestamp(auditor: FrameAuditor) -> None:
    result = auditor.audit(0, _rec(_reset(at=T0 + timedelta(minutes=2))))
    assert _kinds(result) == ["future-timestamp"]


def test_destination_other_than_the_receiving_station_is_wrong_destination(
    auditor: FrameAuditor,
) -> None:
    result = auditor.audit(0, _rec(_reset(destination="cs-0002")))
    assert _kinds(result) == ["wrong-destination"]
    assert "addressed to 'cs-0002'; this receiver is 'cs-0001'" in result.findings[0].detail


def test_destination_of_frames_to_the_csms_is_checked_against_csms_id(
    auditor: FrameAuditor,
) -> None:
    frame = sign_frame(
        '[2,"b","Heartbeat",{}]',
        STATION,
        ocpp="2.0.1",
        station="cs-0001",
        timestamp=T0,
        destination="csms-1",
    )
    assert auditor.audit(0, _rec(frame, direction=TO_CSMS)).findings == ()


def test_signature_with_unknown_member_is_malformed(auditor: FrameAuditor) -> None:
    frame = json.loads(_reset())
    frame[3]["customData"]["signatures"][0]["extra"] = 1
    result = auditor.audit(0, _rec(json.dumps(frame)))
    assert _kinds(result) == ["malformed"]
    assert "unknown member(s) extra" in result.findings[0].detail


def test_frame_that_is_not_json_is_malformed(auditor: FrameAuditor) -> None:
    result = auditor.audit(0, _rec('[2,"1","Reset",{"type":'))
    assert (_kinds(result), result.verdict) == (["malformed"], "unread")


def test_frame_with_duplicate_members_is_malformed(auditor: FrameAuditor) -> None:
    result = auditor.audit(0, _rec('[2,"1","Reset",{"type":"OnIdle","type":"Immediate"}]'))
    assert _kinds(result) == ["malformed"]
    assert "duplicate" in result.findings[0].detail


# --------------------------------------------------------------------------- pairing


def _answer(call: str, status: str = "Accepted", mid: str | None = None, at: datetime = T0) -> str:
    parsed = json.loads(call)
    text = f'[3,"{mid or parsed[1]}",{{"status":"{status}"}}]'
    return sign_frame(
        text,
        STATION,
        ocpp="2.0.1",
        station="cs-0001",
        call=call.replace(f'"{parsed[1]}"', f'"{mid or parsed[1]}"', 1),
        timestamp=at,
    )


def test_response_is_checked_with_its_calls_action(auditor: FrameAuditor) -> None:
    call = _reset()
    auditor.audit(0, _rec(call))
    result = auditor.audit(1, _rec(_answer(call), direction=TO_CSMS))
    assert (result.findings, result.signers) == ((), ("cs-0001",))
    assert result.verdict == "permit-signed"


def test_response_without_a_pending_call_is_reported(auditor: FrameAuditor) -> None:
    result = auditor.audit(0, _rec('[3,"nope",{"status":"Accepted"}]', direction=TO_CSMS))
    assert _kinds(result) == ["response-without-call"]
    assert result.findings[0].detail == "no pending CALL with id 'nope' on this connection"


def test_response_in_the_same_direction_as_the_call_has_no_call(auditor: FrameAuditor) -> None:
    auditor.audit(0, _rec(_reset()))
    result = auditor.audit(1, _rec('[3,"1",{"status":"Accepted"}]', direction=TO_CS))
    assert _kinds(result) == ["response-without-call"]


def test_signed_answer_moved_to_another_request_is_response_moved(auditor: FrameAuditor) -> None:
    soft = _reset("OnIdle", mid="1")
    auditor.audit(0, _rec(soft))
    accepted = _answer(soft)
    auditor.audit(1, _rec(accepted, direction=TO_CSMS))
    other = sign_frame(
        '[2,"2","Reset",{"type":"OnIdle","evseId":1}]',
        OPS,
        ocpp="2.0.1",
        station="cs-0001",
        timestamp=T0,
    )
    auditor.audit(2, _rec(other))
    moved = accepted.replace('[3,"1"', '[3,"2"', 1)
    result = auditor.audit(3, _rec(moved, direction=TO_CSMS))
    assert _kinds(result) == ["response-moved"]
    assert (
        "answers the earlier Reset request '1', not this Reset request '2'"
        in result.findings[0].detail
    )


def test_pairing_is_per_station_when_stations_interleave(auditor: FrameAuditor) -> None:
    call_1 = _reset(mid="7")
    call_2 = '[2,"7","Heartbeat",{}]'
    auditor.audit(0, _rec(call_1))
    auditor.audit(1, _rec(call_2, station="cs-0002", direction=TO_CSMS))
    answer_1 = auditor.audit(2, _rec(_answer(call_1), direction=TO_CSMS))
    answer_2 = auditor.audit(
        3, _rec('[3,"7",{"currentTime":"2026-03-02T08:00:00Z"}]', station="cs-0002")
    )
    assert answer_1.findings == () and answer_1.signers == ("cs-0001",)
    assert answer_2.findings == ()


def test_station_identity_is_compared_case_insensitively(auditor: FrameAuditor) -> None:
    result = auditor.audit(0, _rec(_reset(), station="CS-0001"))
    assert (result.station, result.findings) == ("cs-0001", ())


# --------------------------------------------------------------------------- SPEC v2 §8


def test_a_replay_is_found_after_a_later_dated_frame_came_first(auditor: FrameAuditor) -> None:
    # merged logs: a frame dated an hour later is read between the original and its replay
    first = _reset()
    later = _reset(mid="9", at=T0 + timedelta(hours=1))
    again = first.replace('[2,"1"', '[2,"2"', 1)
    assert _kinds(auditor.audit(0, _rec(first))) == []
    auditor.audit(1, _rec(later, T0 + timedelta(hours=1)))
    result = auditor.audit(2, _rec(again, T0 + timedelta(seconds=20)))
    assert "replayed" in _kinds(result)


def test_capture_time_going_back_within_a_station_is_time_backwards(auditor: FrameAuditor) -> None:
    auditor.audit(0, _rec('[2,"h1","Heartbeat",{}]', T0 + timedelta(seconds=10), TO_CSMS))
    result = auditor.audit(1, _rec('[2,"h2","Heartbeat",{}]', T0, TO_CSMS))
    assert _kinds(result) == ["time-backwards"]
    assert result.findings[0].severity is Severity.WARNING
    assert result.findings[0].message_id == "h2"
    # another station's clock is its own
    other = auditor.audit(2, _rec('[2,"h3","Heartbeat",{}]', T0, TO_CSMS, station="cs-0002"))
    assert _kinds(other) == []


def test_a_call_without_answer_past_the_grace_period_is_unanswered(auditor: FrameAuditor) -> None:
    auditor.audit(0, _rec('[2,"h1","Heartbeat",{}]', T0, TO_CSMS))
    answered = auditor.audit(1, _rec('[2,"h2","Heartbeat",{}]', T0 + timedelta(seconds=5), TO_CSMS))
    assert _kinds(answered) == []
    auditor.audit(2, _rec('[3,"h2",{"currentTime":"2026-03-02T08:00:05Z"}]', T0, TO_CS))
    result = auditor.audit(3, _rec('[2,"h3","Heartbeat",{}]', T0 + timedelta(seconds=61), TO_CSMS))
    assert [(f.kind.value, f.message_id, f.action) for f in result.findings] == [
        ("unanswered-call", "h1", "Heartbeat")
    ]
    # h3 is still within the grace period when the log ends: no finding
    assert auditor.finish() == []


def test_without_capture_times_a_call_is_unanswered_when_its_side_sends_the_next(
    auditor: FrameAuditor,
) -> None:
    auditor.audit(0, LogRecord("l", 1, None, "cs-0001", TO_CSMS, "2.0.1", '[2,"a","Heartbeat",{}]'))
    result = auditor.audit(
        1, LogRecord("l", 2, None, "cs-0001", TO_CSMS, "2.0.1", '[2,"b","Heartbeat",{}]')
    )
    assert [(f.kind.value, f.line, f.message_id) for f in result.findings] == [
        ("unanswered-call", 1, "a")
    ]


def test_a_malformed_frame_names_its_message_id_and_its_answer_is_not_orphaned(
    auditor: FrameAuditor,
) -> None:
    bad = auditor.audit(0, _rec('[2,"m1","Heartbeat",{"a":1,"a":2}]', T0, TO_CSMS))
    assert [(f.kind.value, f.message_id) for f in bad.findings] == [("malformed", "m1")]
    answer = auditor.audit(1, _rec('[3,"m1",{"currentTime":"2026-03-02T08:00:00Z"}]', T0, TO_CS))
    assert _kinds(answer) == []
    truncated = auditor.audit(2, _rec('[3,"x7",{"configurationKey":[]', T0, TO_CS))
    assert [(f.kind.value, f.message_id) for f in truncated.findings] == [("malformed", "x7")]


def test_a_frame_without_capture_time_is_not_judged_stale(auditor: FrameAuditor) -> None:
    old = _reset(at=T0 - timedelta(days=400))
    result = auditor.audit(0, LogRecord("l", 1, None, "cs-0001", TO_CS, "2.0.1", old))
    assert _kinds(result) == []
    assert (result.verdict, result.minute) == ("permit-signed", None)
