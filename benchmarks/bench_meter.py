"""Benchmark of OCMF verification: ratios measured in one run (no absolute targets).

Prints, relative to verifying one secp256r1 record under a one-key keyring:
- parsing alone (no cryptography),
- each supported curve,
- a keyring of 50 unbound keys on the record's curve where the signer is tried last (the cost of
  not binding keys to meters), and the same keyring when the message names the key (tried first).

Run: .venv/bin/python benchmarks/bench_meter.py
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ocpp_e2e.meter import MeterKeyring, MeterVerifier, parse_record
from ocpp_e2e.meter.sign import sign_payload

PAYLOAD = json.dumps(
    {
        "GS": "GW",
        "PG": "T1",
        "MS": "M-1",
        "RD": [
            {"TM": "2024-05-01T10:00:00,000+0200 S", "TX": "B", "RV": 1.0, "RU": "kWh", "ST": "G"},
            {"TM": "2024-05-01T11:00:00,000+0200 S", "TX": "E", "RV": 9.5},
        ],
    }
)
CURVES = {
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp256k1": ec.SECP256K1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
    "secp192r1": ec.SECP192R1,
}


def per_call(fn: Callable[[], object], n: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    n = 300
    key = ec.generate_private_key(ec.SECP256R1())
    record = sign_payload(PAYLOAD, key)
    one = MeterKeyring()
    one.add(key.public_key())
    base = per_call(lambda: MeterVerifier(one).verify_text(record), n)
    print(f"baseline: secp256r1, 1 trusted key: {base * 1e6:.0f} µs per record (this machine)")
    parse = per_call(lambda: parse_record(record), n)
    print(f"parse only                        : {parse / base:.2f}x")
    for name, curve in CURVES.items():
        k = ec.generate_private_key(curve())
        rec = sign_payload(PAYLOAD, k)
        ring = MeterKeyring()
        ring.add(k.public_key())
        t = per_call(lambda ring=ring, rec=rec: MeterVerifier(ring).verify_text(rec), n)
        print(f"{name:<34}: {t / base:.2f}x")
    many = MeterKeyring()
    for _ in range(49):
        many.add(ec.generate_private_key(ec.SECP256R1()).public_key())
    many.add(key.public_key())
    spki = (
        key.public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        .hex()
    )
    slow = per_call(lambda: MeterVerifier(many).verify_text(record), n // 10)
    fast = per_call(lambda: MeterVerifier(many).verify_text(record, embedded_key=spki), n)
    print(f"50 unbound keys, signer last      : {slow / base:.2f}x")
    print(f"50 unbound keys, key named in msg : {fast / base:.2f}x")


if __name__ == "__main__":
    main()
