"""The example policies of policies/ decide a table of realistic frames, signed for real.

Each row of tests/data/policy/example-frames.json names a policy, an OCPP version, a frame (and the
CALL it answers), the demo keys that sign it, and the expected decision with its rule.
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
from typing import Any

import pytest
from test_policy_support import DATA, NOW, POLICIES, example_signer

from ocpp_e2e.context import PendingCall
from ocpp_e2e.frames import parse_frame
from ocpp_e2e.keys import KeySigner
from ocpp_e2e.policy import POLICY_CONTEXT, Decision, Policy, evaluate, load_policy
from ocpp_e2e.sign import sign_frame, sign_object

ROWS: list[dict[str, Any]] = json.loads((DATA / "example-frames.json").read_text())


@cache
def policy(name: str) -> Policy:
    return load_policy(POLICIES / name)


@cache
def signer(name: str) -> KeySigner:
    return example_signer(name)


def decide(row: dict[str, Any]) -> Decision:
    pol = policy(row["policy"])
    signers = [signer(n) for n in row["signers"]]
    when = NOW - timedelta(seconds=row.get("age", 20))
    if "structure" in row:
        obj = row["structure"]
        if signers:
            obj = sign_object(obj, signers, context=POLICY_CONTEXT, timestamp=when)
        return evaluate(
            pol, pol.verifier().verify_object(obj, context=POLICY_CONTEXT, now=NOW), now=NOW
        )
    ocpp = row["ocpp"]
    station = row.get("station", "cs-0001")
    call = row.get("call")
    text = json.dumps(row["frame"])
    if signers:
        text = sign_frame(
            row["frame"], signers, ocpp=ocpp, station=station, call=call, timestamp=when
        )
    if "tamper" in row:
        (index, member), value = row["tamper"]
        frame = json.loads(text)
        frame[index][member] = value
        text = json.dumps(frame)
    pending = PendingCall.of(parse_frame(call, ocpp=ocpp)) if call else None
    checked = pol.verifier().verify_frame(text, ocpp=ocpp, station=station, call=pending, now=NOW)
    return evaluate(pol, checked.verification, now=NOW)


def test_the_table_covers_every_example_policy_both_versions_and_both_effects() -> None:
    assert len(ROWS) >= 30
    assert {r["policy"] for r in ROWS} == {p.name for p in POLICIES.glob("*.yaml")}
    assert {"1.6", "2.0.1"} <= {r.get("ocpp") for r in ROWS}
    assert {r["expect"] for r in ROWS} == {"permit", "deny"}


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_example_policy_decides_frame(row: dict[str, Any]) -> None:
    decision = decide(row)
    assert (decision.effect.value, decision.rule) == (row["expect"], row["rule"]), (
        decision.explain()
    )


def test_tampered_frame_is_denied_for_the_invalid_signature_of_a_known_key() -> None:
    row = next(r for r in ROWS if "tamper" in r)
    decision = decide(row)
    assert decision.reason.startswith("signature #0 from known key ops-1 is invalid")


def test_old_signature_is_not_counted_and_says_expired() -> None:
    row = next(r for r in ROWS if r.get("age") == 600)
    rules = {r.rule: r.reason for r in decide(row).rules}
    assert "not counted: #0 ops-1 is expired" in (rules["configuration-by-operator"] or "")


def test_station_key_counts_only_on_its_own_connection() -> None:
    row = next(r for r in ROWS if r["name"] == "2.0.1 TransactionEvent signed by another station")
    decision = decide(row)
    assert [(s.identity, sorted(s.roles)) for s in decision.signers] == [("cs-0002", [])]


def test_explanation_of_a_denied_grid_limit_reads_well() -> None:
    row = next(r for r in ROWS if r["name"] == "2.0.1 grid limit dropping to 3.7 kW")
    text = decide(row).explain()
    assert "Decision: DENY — no rule permits SetChargingProfile request; default deny" in text
    assert "Counted signers:\n  dso-example [grid-operator]" in text
    assert (
        "  grid-limit-watts (permit) does not apply\n      because limit 3700 < 4200 at "
        "chargingProfile.chargingSchedule[0].chargingSchedulePeriod[2].limit"
    ) in text
    assert 'because chargingRateUnit is "W", not "A" at chargingProfile.chargingSchedule[0]' in text
