"""Verify 10,000 signed 3 KB MeterValues CALL frames and compare with bare Ed25519 verify.

Prints messages per second, the bare `cryptography` Ed25519 verify rate measured in the same run
on the same signing-input sizes, and their ratio (target: >= 0.7). Run:

    .venv/bin/python benchmarks/bench_verify.py [--frames 10000]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from ocpp_e2e.canonical import dumps
from ocpp_e2e.keys import Keyring, KeySigner, generate_private_key
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.verify import Verifier

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def meter_values_frame(i: int, rng: random.Random) -> list[object]:
    samples = []
    for n in range(16):
        samples.append(
            {
                "value": round(rng.uniform(0, 50000), 1),
                "context": "Sample.Periodic",
                "measurand": "Energy.Active.Import.Register",
                "phase": ["L1", "L2", "L3"][n % 3],
                "location": "Outlet",
                "unitOfMeasure": {"unit": "Wh", "multiplier": 0},
            }
        )
    payload = {
        "evseId": 1 + i % 4,
        "meterValue": [
            {
                "timestamp": (NOW - timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "sampledValue": samples,
            }
        ],
    }
    return [2, f"mv-{i:08d}", "MeterValues", payload]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best counts")
    args = parser.parse_args()
    rng = random.Random(7)
    key = generate_private_key("Ed25519")
    signer = KeySigner(key)
    ring = Keyring()
    ring.add(key.public_key(), name="cs-0001")
    frames = [
        sign_frame(
            meter_values_frame(i, rng), signer, ocpp="2.0.1", station="cs-0001", timestamp=NOW
        ).encode()
        for i in range(args.frames)
    ]
    size = sum(len(f) for f in frames) / len(frames)
    verifier = Verifier(ring)

    # Bare verify on the same signing inputs (JCS bytes), prepared outside the timed loop.
    import orjson

    inputs = []
    for f in frames[:2000]:
        frame = orjson.loads(f)
        payload = frame[3]
        sig = payload["customData"]["signatures"][0]
        del payload["customData"]
        data = dumps(
            {
                "context": {
                    "ocpp": "2.0.1",
                    "station": "cs-0001",
                    "action": "MeterValues",
                    "kind": "request",
                },
                "payload": payload,
                "signature": {k: v for k, v in sig.items() if k != "value"},
            }
        )
        inputs.append((data, signer.sign(data)))
    pub = key.public_key()

    def bare() -> float:
        t0 = time.perf_counter()
        for data, value in inputs:
            pub.verify(value, data)
        return len(inputs) / (time.perf_counter() - t0)

    def ours() -> float:
        t0 = time.perf_counter()
        for f in frames:
            result = verifier.verify_frame(f, ocpp="2.0.1", station="cs-0001", now=NOW)
            if not result.verification.signatures[0].valid:
                raise SystemExit("benchmark frame did not verify")
        return len(frames) / (time.perf_counter() - t0)

    # Interleave to share the machine's noise; keep the best round of each.
    bare_rate, our_rate = 0.0, 0.0
    for _ in range(args.rounds):
        bare_rate = max(bare_rate, bare())
        our_rate = max(our_rate, ours())
    print(f"frames: {len(frames)}, average size {size:.0f} bytes")
    print(f"bare Ed25519 verify:   {bare_rate:8.0f} /s ({1e6 / bare_rate:6.1f} µs)")
    print(f"ocpp-e2e verify_frame: {our_rate:8.0f} /s ({1e6 / our_rate:6.1f} µs)")
    print(f"ratio: {our_rate / bare_rate:.2f} (target >= 0.70)")


if __name__ == "__main__":
    main()
