"""Every SPEC §1 algorithm on the same Reset frame: sizes, signing and verification per frame.

Interleaved rounds (each round runs every algorithm once), medians, and the load average of the
run, so that the ratios come from one run on one machine:

    .venv/bin/python benchmarks/bench_algorithms.py --rounds 7 --frames 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime

from ocpp_e2e import ALGORITHMS, Keyring, KeySigner, Verifier, generate_private_key, sign_frame
from ocpp_e2e.keys import spki_der

FRAME = '[2,"19223201","Reset",{"type":"Immediate"}]'
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    setups = {}
    for name in ALGORITHMS:
        key = generate_private_key(name)
        ring = Keyring()
        ring.add(key.public_key(), name=name)
        signer = KeySigner(key)
        text = sign_frame(FRAME, signer, ocpp="2.0.1", station="cs-1", timestamp=NOW)
        setups[name] = (signer, Verifier(ring), text, len(spki_der(key)))
    sign_us: dict[str, list[float]] = {n: [] for n in setups}
    verify_us: dict[str, list[float]] = {n: [] for n in setups}
    for _ in range(args.rounds):
        for name, (signer, verifier, text, _spki) in setups.items():
            t = time.perf_counter()
            for _ in range(args.frames):
                sign_frame(FRAME, signer, ocpp="2.0.1", station="cs-1", timestamp=NOW)
            sign_us[name].append((time.perf_counter() - t) / args.frames * 1e6)
            t = time.perf_counter()
            for _ in range(args.frames):
                verifier.verify_frame(text, ocpp="2.0.1", station="cs-1", now=NOW)
            verify_us[name].append((time.perf_counter() - t) / args.frames * 1e6)
    load = os.getloadavg()
    base = statistics.median(verify_us["Ed25519"])
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.rounds} rounds")
    print("| algorithm | public key (SPKI) | signature | signed frame | sign | verify | verify ratio |")
    print("|---|---|---|---|---|---|---|")
    for name in sorted(setups, key=lambda n: -statistics.median(verify_us[n])):
        _s, _v, text, spki = setups[name]
        v = statistics.median(verify_us[name])
        print(
            f"| {name} | {spki} B | {ALGORITHMS[name].signature_length} B | {len(text)} B "
            f"| {statistics.median(sign_us[name]):.0f} µs | {v:.0f} µs | {v / base:.2f} |"
        )


if __name__ == "__main__":
    main()
