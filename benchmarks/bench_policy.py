"""Policy decisions per second for a 40-rule policy, beside the Ed25519 verify rate (SPEC §7).

Target (issue #3): evaluating the policy costs under 10% of verifying one Ed25519 signature.
Run: .venv/bin/python benchmarks/bench_policy.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp_e2e.keys import KeySigner, generate_private_key, public_key_to_pem
from ocpp_e2e.policy import Policy, evaluate
from ocpp_e2e.sign import sign_frame

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def rate(fn: Callable[[], Any], seconds: float = 1.0) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(100):
            fn()
        n += 100
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def forty_rules() -> list[dict[str, Any]]:
    grid_where = [
        {
            "path": "chargingProfile.chargingProfilePurpose",
            "op": "eq",
            "value": "ChargingStationExternalConstraints",
        },
        {"path": "chargingProfile.chargingSchedule[*].chargingRateUnit", "op": "eq", "value": "W"},
        {
            "path": "chargingProfile.chargingSchedule[*].chargingSchedulePeriod[*].limit",
            "op": "gte",
            "value": 4200,
        },
        {
            "path": "chargingProfile.chargingSchedule[*].chargingSchedulePeriod[*].dischargeLimit",
            "op": "absent",
        },
        {
            "path": "chargingProfile.chargingSchedule[*].chargingSchedulePeriod[*].setpoint",
            "op": "absent",
        },
    ]
    rules: list[dict[str, Any]] = [
        {
            "id": "no-discharge",
            "effect": "forbid",
            "match": {"actions": ["SetChargingProfile"]},
            "where": [
                {
                    "path": "chargingProfile.chargingSchedule[*].chargingSchedulePeriod[*].operationMode",
                    "op": "notIn",
                    "value": ["ChargingOnly"],
                }
            ],
        },
        {
            "id": "grid-limit",
            "effect": "permit",
            "match": {"actions": ["SetChargingProfile"], "kinds": ["request"]},
            "signers": {"roles": ["grid"]},
            "where": grid_where,
        },
    ]
    for i in range(38):
        rules.append(
            {
                "id": f"vendor-rule-{i}",
                "effect": "permit" if i % 4 else "forbid",
                "match": {"actions": [f"VendorAction{i}", f"Other{i}"], "kinds": ["request"]},
                **({"signers": {"roles": ["ops"], "threshold": 1}} if i % 4 else {}),
                "where": [{"path": f"data[*].field{i}", "op": "lt", "value": i}],
            }
        )
    return rules


def main() -> None:
    grid_key, ed_key = generate_private_key("Ed25519"), generate_private_key("Ed25519")
    grid = KeySigner(grid_key)
    policy = Policy.from_dict(
        {
            "type": "SignaturePolicy",
            "id": "bench",
            "version": 1,
            "maxSignatureAge": "PT5M",
            "keys": [
                {
                    "publicKey": public_key_to_pem(grid_key).decode(),
                    "name": "dso-1",
                    "roles": ["grid"],
                },
                {
                    "publicKey": public_key_to_pem(ed_key).decode(),
                    "name": "ops-1",
                    "roles": ["ops"],
                },
            ],
            "rules": forty_rules(),
        }
    )
    assert len(policy.rules) == 40
    report(policy, grid, ed_key, periods=3)
    report(policy, grid, ed_key, periods=24)


def report(policy: Policy, grid: KeySigner, ed_key: Any, *, periods: int) -> None:
    """Measure and print the rates for a grid profile with ``periods`` schedule periods."""
    schedule = [{"startPeriod": 900 * i, "limit": 11000 - 100 * i} for i in range(periods)]
    payload = {
        "evseId": 1,
        "chargingProfile": {
            "id": 7,
            "stackLevel": 0,
            "chargingProfilePurpose": "ChargingStationExternalConstraints",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": schedule}
            ],
        },
    }
    text = sign_frame(
        [2, "1", "SetChargingProfile", payload],
        grid,
        ocpp="2.0.1",
        station="cs-0001",
        timestamp=NOW - timedelta(seconds=5),
    )
    verifier = policy.verifier()
    checked = verifier.verify_frame(text, ocpp="2.0.1", station="cs-0001", now=NOW)
    decision = evaluate(policy, checked.verification, now=NOW)
    assert decision.rule == "grid-limit", decision.explain()

    data = b"x" * 600
    sig = ed_key.sign(data)
    pub = ed_key.public_key()
    ed_rate = rate(lambda: pub.verify(sig, data))
    frame_rate = rate(lambda: verifier.verify_frame(text, ocpp="2.0.1", station="cs-0001", now=NOW))
    decide_rate = rate(lambda: evaluate(policy, checked.verification, now=NOW))
    explain_rate = rate(lambda: evaluate(policy, checked.verification, now=NOW).rules, 0.5)
    ratio = ed_rate / decide_rate
    print(f"policy: 40 rules; SetChargingProfile with {periods} periods, 1 Ed25519 signer")
    print(f"Ed25519 verify (raw):          {ed_rate:10.0f}/s")
    print(f"verify_frame (full SPEC §4):   {frame_rate:10.0f}/s")
    print(f"policy decision (evaluate):    {decide_rate:10.0f}/s")
    print(f"decision + full explanation:   {explain_rate:10.0f}/s")
    print(f"decision cost / Ed25519 verify: {ratio:.1%}  (target < 10%)\n")


if __name__ == "__main__":
    main()
