"""Policy decisions with each shipped policy (policies/*.yaml), certificate roles included.

For every policy in ``policies/``, a message the policy is written for is signed with the demo
keys of ``keys-example/`` (each signature carrying its certificate chain, as deployed signers
send them), verified with the policy's own verifier (trust anchors, certificate roles), and
decided. Each round times, one after the other, a bare ``cryptography`` Ed25519 verify of the same
size of signing input, ``verify_frame`` (or ``verify_object`` for a signed policy) and the
decision (``evaluate``); the printed figures are medians over the rounds of the per-round ratios
(goal: a decision under 10 % of one verify). Run:

    nice -n 19 .venv/bin/python benchmarks/bench_policy_shipped.py --rounds 15
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from shapes import load_average, median

from ocpp_e2e.keys import KeySigner, load_private_key
from ocpp_e2e.policy import POLICY_CONTEXT, evaluate, load_policy, sign_policy
from ocpp_e2e.sign import sign_frame

REPO = Path(__file__).resolve().parents[1]
KEYS = REPO / "keys-example"
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
SIGNED_AT = NOW - timedelta(seconds=5)


def signer(name: str) -> KeySigner:
    pem = (KEYS / f"{name}.chain.pem").read_bytes()
    chain = [
        c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(pem)
    ]
    return KeySigner(load_private_key(KEYS / f"{name}.key.pem"), certificates=chain)


def meter_values() -> dict[str, Any]:
    samples = [
        {
            "value": 1000 * n,
            "context": "Sample.Periodic",
            "measurand": "Energy.Active.Import.Register",
            "phase": ["L1", "L2", "L3"][n % 3],
            "location": "Outlet",
            "unitOfMeasure": {"unit": "Wh", "multiplier": 0},
        }
        for n in range(16)
    ]
    return {
        "evseId": 1,
        "meterValue": [{"timestamp": "2027-03-01T11:59:00Z", "sampledValue": samples}],
    }


def grid_profile(periods: int) -> dict[str, Any]:
    return {
        "evseId": 1,
        "chargingProfile": {
            "id": 7,
            "stackLevel": 0,
            "chargingProfilePurpose": "ChargingStationExternalConstraints",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {
                    "id": 1,
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 900 * i, "limit": 11000.0 - 100 * i} for i in range(periods)
                    ],
                }
            ],
        },
    }


def cases() -> list[tuple[str, str, Callable[[], Any], Callable[[Any], Any], Any, str]]:
    """(policy file, message, verify(), decide(verification), expected rule, station)."""
    out = []

    def frame_case(
        policy_file: str,
        label: str,
        frame: list[Any],
        signers: list[KeySigner],
        station: str,
        rule: str,
    ) -> None:
        policy = load_policy(REPO / "policies" / policy_file)
        text = sign_frame(
            frame, signers, ocpp="2.0.1", station=station, timestamp=SIGNED_AT
        ).encode()
        verifier = policy.verifier()

        def verify() -> Any:
            return verifier.verify_frame(text, ocpp="2.0.1", station=station, now=NOW).verification

        out.append(
            (
                policy_file,
                label,
                verify,
                lambda v, p=policy: evaluate(p, v, now=NOW),
                rule,
                len(text),
            )
        )

    frame_case(
        "csms-station-messages.yaml",
        "MeterValues 3 KB from station cs-0001",
        [2, "m1", "MeterValues", meter_values()],
        [signer("station-1")],
        "cs-0001",
        "station-signed-messages",
    )
    frame_case(
        "grid-14a-enwg.yaml",
        "SetChargingProfile, 24 periods, grid operator",
        [2, "g1", "SetChargingProfile", grid_profile(24)],
        [signer("grid-operator")],
        "cs-0001",
        "grid-limit-watts",
    )
    frame_case(
        "station-csms-commands.yaml",
        "Reset by the CSMS operator",
        [2, "r1", "Reset", {"type": "Immediate"}],
        [signer("csms-operator")],
        "cs-0001",
        "configuration-by-operator",
    )
    frame_case(
        "station-csms-commands.yaml",
        "UpdateFirmware, operator + security officer (four eyes)",
        [
            2,
            "f1",
            "UpdateFirmware",
            {
                "requestId": 1,
                "firmware": {
                    "location": "https://fw.example/cs.bin",
                    "retrieveDateTime": "2027-03-01T12:00:00Z",
                },
            },
        ],
        [signer("csms-operator"), signer("security-officer")],
        "cs-0001",
        "firmware-four-eyes",
    )
    quorum = load_policy(REPO / "policies" / "policy-admin-quorum.yaml")
    doc = sign_policy(
        load_policy(REPO / "policies" / "grid-14a-enwg.yaml"),
        [signer("policy-admin-1"), signer("policy-admin-2")],
        timestamp=SIGNED_AT,
    )
    import orjson

    doc_text = orjson.dumps(doc)
    qverifier = quorum.verifier()

    def verify_policy() -> Any:
        return qverifier.verify_object(doc_text, context=POLICY_CONTEXT, now=NOW)

    out.append(
        (
            "policy-admin-quorum.yaml",
            "a signed policy, two admins (Ed25519 + ES384)",
            verify_policy,
            lambda v, p=quorum: evaluate(p, v, now=NOW),
            "policy-by-quorum",
            len(doc_text),
        )
    )
    return out


def cpu(fn: Callable[[], Any], calls: int) -> float:
    """CPU seconds per call of ``fn`` (process time: slices lost to other processes of the shared
    machine do not count)."""
    t0 = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - t0) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--calls", type=int, default=200, help="calls per measurement")
    args = parser.parse_args()
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key()
    rows = []
    for policy_file, label, verify, decide, rule, size in cases():
        verification = verify()
        decision = decide(verification)
        if decision.rule != rule:
            raise SystemExit(
                f"{policy_file}: {label}: decided by {decision.rule!r}, not {rule!r}: {decision.explain()}"
            )
        data = b"x" * size
        sig = key.sign(data)
        to_bare, to_verify, per = [], [], []
        for _ in range(args.rounds):
            t_bare = cpu(lambda s=sig, d=data: public.verify(s, d), args.calls)
            t_ours = cpu(verify, args.calls)
            t_decide = cpu(lambda f=decide, v=verification: f(v), args.calls)
            to_bare.append(t_decide / t_bare)
            to_verify.append(t_decide / t_ours)
            per.append(t_decide * 1e6)
        rows.append((policy_file, label, median(per), median(to_bare), median(to_verify)))
    print(f"load average: {load_average()}; rounds: {args.rounds}")
    print(
        "| policy | message | decision µs | decision / bare Ed25519 verify | decision / full verification |"
    )
    print("|---|---|---|---|---|")
    for policy_file, label, per, tb, tv in sorted(rows, key=lambda r: -r[3]):
        print(f"| {policy_file} | {label} | {per:.1f} | {tb:.1%} | {tv:.1%} |")


if __name__ == "__main__":
    main()
