"""SPEC §4 TrustedClock: set only from a valid, permitted currentTime signed by a CSMS key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from test_integration_harness import DATA, signer

from ocpp_e2e.context import PendingCall
from ocpp_e2e.frames import parse_frame
from ocpp_e2e.integrations.ocpp import TrustedClock
from ocpp_e2e.keys import KeySigner
from ocpp_e2e.model import Verification
from ocpp_e2e.policy import Decision, evaluate, load_policy
from ocpp_e2e.sign import sign_frame

SYSTEM = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
SKEW = timedelta(seconds=30)
POLICY = load_policy(DATA / "station-policy.yaml")
CALL = '[2,"h1","Heartbeat",{}]'


def heartbeat_response(current_time: str, *signers: KeySigner) -> tuple[Verification, Decision]:
    """A Heartbeat response as the station's verifier and policy see it at SYSTEM."""
    text = f'[3,"h1",{{"currentTime":"{current_time}"}}]'
    pending = PendingCall.of(parse_frame(CALL))
    if signers:
        text = sign_frame(
            text, list(signers), ocpp="2.0.1", station="cs-0001", call=pending, timestamp=SYSTEM
        )
    checked = POLICY.verifier().verify_frame(
        text, ocpp="2.0.1", station="cs-0001", call=pending, now=SYSTEM
    )
    return checked.verification, evaluate(POLICY, checked.verification, now=SYSTEM)


def clock() -> TrustedClock:
    return TrustedClock(clock_skew=SKEW, source=lambda: SYSTEM)


def update(c: TrustedClock, current: Any, *signers: KeySigner) -> Any:
    verification, decision = heartbeat_response(
        current if isinstance(current, str) else "2026-11-22T12:00:00Z", *signers
    )
    return c.update(current, verification, decision)


def test_clock_starts_at_the_system_time() -> None:
    assert clock().now() == SYSTEM


def test_clock_is_set_from_current_time_signed_by_the_csms_operator() -> None:
    c = clock()
    result = update(c, "2026-11-22T12:10:00Z", signer("csms-operator"))
    assert result.applied and result.reason == "set from currentTime signed by ops-1"
    assert c.now() == SYSTEM + timedelta(minutes=10)


def test_clock_ignores_an_unsigned_current_time() -> None:
    c = clock()
    result = update(c, "2026-11-22T12:10:00Z")
    assert not result.applied
    assert result.reason == "the response is not validly signed (every signature must be valid)"
    assert c.now() == SYSTEM


def test_clock_ignores_current_time_signed_by_a_key_without_csms_role() -> None:
    c = clock()
    result = update(c, "2026-11-22T12:10:00Z", signer("grid-operator"))
    assert not result.applied and c.now() == SYSTEM
    assert result.reason.startswith("the policy did not permit the response")


def test_clock_needs_valid_signatures_even_with_a_permit_decision() -> None:
    c = clock()
    _, permit = heartbeat_response("2026-11-22T12:10:00Z", signer("csms-operator"))
    unsigned, _ = heartbeat_response("2026-11-22T13:00:00Z")
    result = c.update("2026-11-22T13:00:00Z", unsigned, permit)
    assert not result.applied and c.now() == SYSTEM


def test_clock_never_moves_back_more_than_the_clock_skew() -> None:
    c = clock()
    result = update(c, "2026-11-22T11:59:00Z", signer("csms-operator"))
    assert not result.applied and "more than clockSkew before" in result.reason
    assert c.now() == SYSTEM


def test_clock_moves_back_within_the_clock_skew() -> None:
    c = clock()
    assert update(c, "2026-11-22T11:59:45Z", signer("csms-operator")).applied
    assert c.now() == SYSTEM - timedelta(seconds=15)


def test_clock_cannot_be_walked_back_by_repeated_small_steps() -> None:
    c = clock()
    assert update(c, "2026-11-22T11:59:40Z", signer("csms-operator")).applied
    result = update(c, "2026-11-22T11:59:20Z", signer("csms-operator"))
    assert not result.applied and c.now() == SYSTEM - timedelta(seconds=20)


def test_clock_ignores_a_current_time_that_is_not_rfc3339() -> None:
    c = clock()
    result = update(c, "22.11.2026 12:10", signer("csms-operator"))
    assert not result.applied and "not an RFC 3339 date-time" in result.reason


def test_clock_ignores_a_missing_current_time() -> None:
    result = update(clock(), None, signer("csms-operator"))
    assert not result.applied and result.reason == "the response has no currentTime string"


def test_clock_needs_a_csms_role_when_the_policy_permits_other_signers() -> None:
    c = TrustedClock(clock_skew=SKEW, source=lambda: SYSTEM, csms_usages=())
    result = update(c, "2026-11-22T12:10:00Z", signer("csms-operator"))
    assert not result.applied and result.reason == "no signer of the response holds a CSMS role"


def test_clock_accepts_a_policy_role_as_csms_role() -> None:
    c = TrustedClock(
        clock_skew=SKEW, source=lambda: SYSTEM, csms_usages=(), csms_roles=["csms-admin"]
    )
    assert update(c, "2026-11-22T12:10:00Z", signer("csms-operator")).applied
