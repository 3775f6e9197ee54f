"""A station's decision on a ticket presentation (SPEC §6): every refusal with its verdict."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_ticket_support import (
    EVSE,
    KEYS,
    STATION,
    T0,
    Station,
    demo_signer,
    issue,
    make_station,
    present,
)

from ocpp_e2e.context import structure_context
from ocpp_e2e.errors import SigningError
from ocpp_e2e.keys import KeySigner, generate_private_key
from ocpp_e2e.pki import create_root
from ocpp_e2e.sign import sign_object
from ocpp_e2e.tickets import (
    Money,
    TariffRef,
    TicketLimits,
    TicketScope,
    TicketVerdict,
    present_ticket,
    verify_ticket,
)

DIGEST_A = "A" * 42 + "A"
DIGEST_B = "B" * 42 + "A"


@pytest.fixture
def station(tmp_path: Path) -> Station:
    return make_station(tmp_path / "ledger.sqlite")


def _resign_presentation(body: dict[str, Any], holder: KeySigner) -> dict[str, Any]:
    body = {k: v for k, v in body.items() if k != "signatures"}
    return sign_object(
        body, holder, context=structure_context("TicketPresentation"), carrier="top", timestamp=T0
    )


# --------------------------------------------------------------------------- happy path


def test_valid_presentation_is_accepted_and_starts_a_session(station: Station) -> None:
    issued = issue()
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.ACCEPTED
    assert decision.reason == "session 1 of 2 started"
    assert decision.issuer == "emp-example"
    assert decision.session_id is not None
    assert decision.remaining is not None and decision.remaining.sessions == 1


def test_presentation_bytes_are_read_strictly_and_accepted(station: Station) -> None:
    import json

    issued = issue()
    data = json.dumps(present(issued, station.challenge())).encode()
    assert station.verifier.verify(data, now=T0).verdict is TicketVerdict.ACCEPTED


def test_accepted_decision_reports_remaining_energy_and_cost(station: Station) -> None:
    issued = issue(
        limits=TicketLimits(
            max_sessions=3, max_energy_wh=20000, max_cost=Money(Decimal("25.5"), "EUR")
        )
    )
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.remaining is not None
    assert decision.remaining.to_dict() == {
        "sessions": 2,
        "energyWh": 20000,
        "cost": "25.5",
        "currency": "EUR",
    }


# --------------------------------------------------------------------------- issuer


def test_ticket_signed_by_key_without_ticket_issuing_is_untrusted_issuer(station: Station) -> None:
    issued = issue(demo_signer("csms-operator"), issuer="ops-1", require_certificate=False)
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.UNTRUSTED_ISSUER
    assert decision.reason == "the ticket's signer 'ops-1' holds csmsOperator, not ticketIssuing"


def test_ticket_from_issuer_under_unknown_root_is_untrusted_issuer(station: Station) -> None:
    root = create_root(
        generate_private_key("ES256"),
        "rogue-root",
        valid_for=timedelta(days=3650),
        not_before=T0 - timedelta(days=1),
    )
    emp_key = generate_private_key("ES256")
    emp = root.sub_authority(
        root.issue_ca(
            emp_key.public_key(),
            "rogue-emp",
            ["ticketIssuing"],
            valid_for=timedelta(days=365),
            not_before=T0 - timedelta(days=1),
        ),
        emp_key,
    )
    leaf_key = generate_private_key("ES256")
    leaf = emp.issue(
        leaf_key.public_key(),
        "emp-example",
        ["ticketIssuing"],
        valid_for=timedelta(days=30),
        not_before=T0 - timedelta(days=1),
    )
    from cryptography.hazmat.primitives import serialization

    chain = [c.public_bytes(serialization.Encoding.DER) for c in emp.chain_for(leaf)]
    issued = issue(KeySigner(leaf_key, certificates=chain))
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.UNTRUSTED_ISSUER
    assert decision.reason.startswith("ticket signature is untrusted-certificate: ")


def test_ticket_signed_by_bare_key_is_untrusted_issuer(station: Station) -> None:
    issued = issue(
        KeySigner(generate_private_key("ES256")), issuer="emp-example", require_certificate=False
    )
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.UNTRUSTED_ISSUER
    assert "unknown-key" in decision.reason


def test_issuer_member_other_than_signer_identity_is_issuer_mismatch(station: Station) -> None:
    issued = issue(issuer="emp-other", require_certificate=False)
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.ISSUER_MISMATCH
    assert decision.reason == "the ticket names issuer 'emp-other' but is signed by 'emp-example'"


def test_issuing_with_issuer_other_than_certificate_identity_is_refused() -> None:
    with pytest.raises(SigningError, match="differs from the certificate identity 'emp-example'"):
        issue(issuer="emp-other")


def test_issuing_with_certificate_lacking_ticket_issuing_is_refused() -> None:
    with pytest.raises(SigningError, match="lacks usage ticketIssuing"):
        issue(demo_signer("csms-operator"))


# --------------------------------------------------------------------------- tampering


def test_ticket_changed_after_signing_is_tampered(station: Station) -> None:
    issued = issue()
    body = present(issued, station.challenge())
    # The holder raises its own limits and signs the presentation again with its real key.
    body["ticket"]["limits"]["maxSessions"] = 1000
    forged = _resign_presentation(body, KeySigner(issued.holder_key))
    decision = station.verifier.verify(forged, now=T0)
    assert decision.verdict is TicketVerdict.TAMPERED
    assert decision.reason.startswith("ticket signature: the signature does not verify")


def test_presentation_changed_after_signing_is_tampered(tmp_path: Path) -> None:
    other = make_station(tmp_path / "l.sqlite", evse_id="DE*GEF*E0001*2")
    issued = issue()
    body = present(issued, other.challenge())
    body["evseId"] = "DE*GEF*E0001*2"  # moved to another EVSE after signing
    decision = other.verifier.verify(body, now=T0)
    assert decision.verdict is TicketVerdict.TAMPERED
    assert decision.reason.startswith("presentation signature: ")


# --------------------------------------------------------------------------- validity


def test_expired_ticket_is_refused(station: Station) -> None:
    issued = issue(not_before=T0 - timedelta(hours=25), valid_for=timedelta(hours=24))
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.EXPIRED
    assert decision.reason == (
        "the ticket expired at 2030-06-01T11:00:00.000Z, now is 2030-06-01T12:00:00.000Z"
    )


def test_ticket_before_not_before_is_not_yet_valid(station: Station) -> None:
    issued = issue(not_before=T0 + timedelta(minutes=5))
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.NOT_YET_VALID


def test_ticket_is_valid_at_exactly_not_after(station: Station) -> None:
    issued = issue(not_before=T0 - timedelta(hours=1), not_after=T0, valid_for=None)
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.ACCEPTED


# --------------------------------------------------------------------------- holder key


def test_presentation_signed_with_another_key_is_wrong_holder_key(station: Station) -> None:
    issued = issue()
    body = present(issued, station.challenge())
    thief = KeySigner(generate_private_key())
    decision = station.verifier.verify(_resign_presentation(body, thief), now=T0)
    assert decision.verdict is TicketVerdict.WRONG_HOLDER_KEY
    assert decision.reason.startswith(f"the presentation is signed by key {thief.key_id}")


def test_presentation_with_embedded_public_key_of_another_key_is_wrong_holder_key(
    station: Station,
) -> None:
    issued = issue()
    body = {k: v for k, v in present(issued, station.challenge()).items() if k != "signatures"}
    thief = KeySigner(generate_private_key())
    forged = sign_object(
        body,
        thief,
        context=structure_context("TicketPresentation"),
        embed_public_key=True,
        timestamp=T0,
    )
    assert station.verifier.verify(forged, now=T0).verdict is TicketVerdict.WRONG_HOLDER_KEY


def test_presentation_with_a_second_signature_is_malformed(station: Station) -> None:
    issued = issue()
    body = present(issued, station.challenge())
    doubled = sign_object(
        body,
        KeySigner(issued.holder_key),
        context=structure_context("TicketPresentation"),
        timestamp=T0,
    )
    decision = station.verifier.verify(doubled, now=T0)
    assert decision.verdict is TicketVerdict.MALFORMED
    assert decision.reason == "a presentation must carry exactly one signature, it carries 2"


def test_unsigned_presentation_is_malformed(station: Station) -> None:
    issued = issue()
    body = {k: v for k, v in present(issued, station.challenge()).items() if k != "signatures"}
    decision = station.verifier.verify(body, now=T0)
    assert decision.verdict is TicketVerdict.MALFORMED


def test_holder_cannot_present_with_a_key_other_than_holder_key() -> None:
    issued = issue()
    with pytest.raises(SigningError, match="is not the ticket's holder key"):
        present_ticket(
            issued.ticket,
            KeySigner(generate_private_key()),
            station_id=STATION,
            evse_id=EVSE,
            challenge="A" * 43,
            timestamp=T0,
        )


# --------------------------------------------------------------------------- station, scope


def test_presentation_for_another_station_is_wrong_station(station: Station) -> None:
    issued = issue()
    body = present(issued, station.challenge(), station_id="cs-0002")
    decision = station.verifier.verify(body, now=T0)
    assert decision.verdict is TicketVerdict.WRONG_STATION


def test_presentation_for_another_evse_is_wrong_evse(station: Station) -> None:
    issued = issue()
    body = present(issued, station.challenge(), evse_id="DE*GEF*E0001*2")
    assert station.verifier.verify(body, now=T0).verdict is TicketVerdict.WRONG_EVSE


def test_station_outside_the_station_patterns_is_out_of_scope(tmp_path: Path) -> None:
    far = make_station(tmp_path / "l.sqlite", station_id="cs-9001")
    issued = issue()
    decision = far.verifier.verify(present(issued, far.challenge(), station_id="cs-9001"), now=T0)
    assert decision.verdict is TicketVerdict.OUT_OF_SCOPE
    assert decision.reason == "station 'cs-9001' matches none of ['cs-00*']"


def test_evse_of_another_operator_is_out_of_scope(tmp_path: Path) -> None:
    far = make_station(tmp_path / "l.sqlite", evse_id="DE*XYZ*E0001*1")
    issued = issue()
    body = present(issued, far.challenge(), evse_id="DE*XYZ*E0001*1")
    decision = far.verifier.verify(body, now=T0)
    assert decision.verdict is TicketVerdict.OUT_OF_SCOPE
    assert decision.reason == "EVSE 'DE*XYZ*E0001*1' matches none of ['DE*GEF*E*']"


def test_operator_scope_without_configured_operator_is_out_of_scope(tmp_path: Path) -> None:
    anon = make_station(tmp_path / "l.sqlite", operator_id=None)
    issued = issue(scope=TicketScope(operators=("DE*GEF",)))
    decision = anon.verifier.verify(present(issued, anon.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.OUT_OF_SCOPE
    assert "has no operator id configured" in decision.reason


def test_operator_in_operator_scope_is_accepted(station: Station) -> None:
    issued = issue(scope=TicketScope(operators=("de*gef",)))
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.ACCEPTED


def test_station_tariff_not_named_by_the_ticket_is_not_covered(tmp_path: Path) -> None:
    priced = make_station(tmp_path / "l.sqlite", tariff=TariffRef("T-1", DIGEST_B))
    issued = issue(tariffs=[TariffRef("T-1", DIGEST_A)])
    decision = priced.verifier.verify(present(issued, priced.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.TARIFF_NOT_COVERED


def test_station_tariff_named_by_the_ticket_is_accepted(tmp_path: Path) -> None:
    priced = make_station(tmp_path / "l.sqlite", tariff=TariffRef("T-1", DIGEST_A))
    issued = issue(tariffs=[TariffRef("T-1", DIGEST_A)])
    decision = priced.verifier.verify(present(issued, priced.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.ACCEPTED


# --------------------------------------------------------------------------- challenges


def test_replayed_presentation_is_refused(station: Station) -> None:
    issued = issue()
    body = present(issued, station.challenge())
    assert station.verifier.verify(body, now=T0).verdict is TicketVerdict.ACCEPTED
    decision = station.verifier.verify(body, now=T0 + timedelta(seconds=1))
    assert decision.verdict is TicketVerdict.REPLAYED
    assert decision.reason == "the challenge was already used at 2030-06-01T12:00:00.000Z"


def test_challenge_older_than_60_seconds_is_stale(station: Station) -> None:
    issued = issue()
    body = present(issued, station.challenge(at=T0))
    decision = station.verifier.verify(body, now=T0 + timedelta(seconds=60, milliseconds=1))
    assert decision.verdict is TicketVerdict.STALE_CHALLENGE
    assert decision.reason == "the challenge is 60.001 s old; at most 60 s are allowed"


def test_challenge_exactly_60_seconds_old_is_fresh(station: Station) -> None:
    issued = issue()
    body = present(issued, station.challenge(at=T0))
    decision = station.verifier.verify(body, now=T0 + timedelta(seconds=60))
    assert decision.verdict is TicketVerdict.ACCEPTED


def test_challenge_never_issued_by_this_station_is_unknown(station: Station) -> None:
    issued = issue()
    decision = station.verifier.verify(present(issued, "Q" * 43), now=T0)
    assert decision.verdict is TicketVerdict.UNKNOWN_CHALLENGE


def test_challenge_of_another_station_ledger_is_unknown(station: Station, tmp_path: Path) -> None:
    other = make_station(tmp_path / "other.sqlite")
    issued = issue()
    decision = station.verifier.verify(present(issued, other.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.UNKNOWN_CHALLENGE


def test_challenge_issued_for_another_station_in_a_shared_ledger_is_unknown(
    station: Station,
) -> None:
    issued = issue()
    foreign = station.ledger.issue_challenge("cs-0002", now=T0).value
    decision = station.verifier.verify(present(issued, foreign), now=T0)
    assert decision.verdict is TicketVerdict.UNKNOWN_CHALLENGE
    assert decision.reason == "the challenge was issued for station 'cs-0002', not 'cs-0001'"


def test_presentation_refused_offline_leaves_its_challenge_unspent(station: Station) -> None:
    issued = issue()
    challenge = station.challenge()
    wrong = present(issued, challenge, evse_id="DE*GEF*E0001*2")
    assert station.verifier.verify(wrong, now=T0).verdict is TicketVerdict.WRONG_EVSE
    right = present(issued, challenge)
    assert station.verifier.verify(right, now=T0).verdict is TicketVerdict.ACCEPTED


# --------------------------------------------------------------------------- limits


def test_third_session_of_a_two_session_ticket_is_refused(station: Station) -> None:
    issued = issue()
    for _ in range(2):
        assert station.verifier.verify(present(issued, station.challenge()), now=T0).accepted
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.SESSIONS_EXHAUSTED
    assert decision.reason == "all 2 session(s) of this ticket are used at this station"


def test_ticket_whose_reported_energy_reached_max_is_energy_exhausted(station: Station) -> None:
    issued = issue(limits=TicketLimits(max_sessions=5, max_energy_wh=10000))
    first = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert first.session_id is not None
    station.ledger.record_usage(first.session_id, energy_wh=10000)
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.ENERGY_EXHAUSTED


def test_ticket_whose_reported_cost_reached_max_is_cost_exhausted(station: Station) -> None:
    issued = issue(limits=TicketLimits(max_sessions=5, max_cost=Money(Decimal("10"), "EUR")))
    first = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert first.session_id is not None
    station.ledger.record_usage(
        first.session_id, energy_wh=500, cost=Decimal("10.00"), currency="EUR"
    )
    decision = station.verifier.verify(present(issued, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.COST_EXHAUSTED
    assert decision.reason == "10.00 EUR used of maxCost 10"


def test_sessions_are_counted_per_issuer_key_and_ticket_id(station: Station) -> None:
    one = issue(ticket_id="same-id", limits=TicketLimits(max_sessions=1))
    two = issue(ticket_id="same-id", limits=TicketLimits(max_sessions=1))
    assert station.verifier.verify(present(one, station.challenge()), now=T0).accepted
    # Same issuer key, same ticketId: the same ticket as far as the ledger is concerned.
    decision = station.verifier.verify(present(two, station.challenge()), now=T0)
    assert decision.verdict is TicketVerdict.SESSIONS_EXHAUSTED


# --------------------------------------------------------------------------- malformed input


def test_presentation_that_is_not_ijson_is_malformed(station: Station) -> None:
    decision = station.verifier.verify(b'{"type": "TicketPresentation", "type": "x"}', now=T0)
    assert decision.verdict is TicketVerdict.MALFORMED
    assert "duplicate" in decision.reason


def test_ticket_with_unknown_member_is_malformed(station: Station) -> None:
    issued = issue()
    body = present(issued, station.challenge())
    body["ticket"]["holderName"] = "Erika Mustermann"
    decision = station.verifier.verify(body, now=T0)
    assert decision.verdict is TicketVerdict.MALFORMED
    assert decision.reason == "presentation: $.ticket: unknown member(s) holderName"


def test_ticket_with_two_signatures_is_malformed(station: Station) -> None:
    issued = issue()
    twice = sign_object(
        issued.ticket,
        demo_signer("ticket-issuer"),
        context=structure_context("ChargingTicket"),
        timestamp=T0,
    )
    body = present_ticket(
        twice,
        KeySigner(issued.holder_key),
        station_id=STATION,
        evse_id=EVSE,
        challenge=station.challenge(),
        timestamp=T0,
    )
    decision = station.verifier.verify(body, now=T0)
    assert decision.verdict is TicketVerdict.MALFORMED
    assert decision.reason == "a ticket must carry exactly one signature, it carries 2"


def test_verify_ticket_alone_reports_the_issuer_key() -> None:
    from test_ticket_support import demo_validator

    issued = issue()
    check = verify_ticket(copy.deepcopy(issued.ticket), demo_validator(), now=T0)
    assert check.ok
    assert check.issuer_key_id == demo_signer("ticket-issuer").key_id
    assert (KEYS / "ticket-issuer.key.pem").exists()
