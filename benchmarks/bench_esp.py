"""ESP sizes and speeds (docs/esp.md): what encryption adds to frames users send, per suite.

Shapes: a signed Heartbeat (the smallest frame), a signed SetChargingProfile of 24 periods (a
typical command), signed NotifyReports of ~30 KB and ~300 KB, and an unsigned frame of 768,000 bytes
(the largest inner frame ESP carries: the worst case a receiver decrypts). For each shape and suite, each round times
``encrypt_frame`` and ``EspReceiver.decrypt_frame`` over the shape's frames right after
``Verifier.verify_frame`` over the same (signed) inner frames, in alternating order; the printed
ratios are medians of per-round ratios (ESP time / verify time), so load from other processes
slows both sides alike. Sizes are exact. Worst shapes first. Run:

    nice -n 19 .venv/bin/python benchmarks/bench_esp.py --rounds 9
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ed25519
from shapes import heartbeat, keyring_for, load_average, median, notify_report, set_charging_profile

from ocpp_e2e.canonical import dumps
from ocpp_e2e.esp import (
    SUITES,
    EspKeyInfo,
    EspKeyring,
    EspPrivateKey,
    EspReceiver,
    encrypt_frame,
    generate_esp_key,
)
from ocpp_e2e.keys import KeySigner
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.verify import Verifier

NOW = datetime(2026, 12, 7, 22, 40, tzinfo=UTC)
OCPP = "2.0.1"
STATION = "cs-0001"


def frames_of(
    build: Callable[..., tuple[str, dict[str, object]]], count: int, signer: KeySigner
) -> list[str]:
    rng = random.Random(7)
    out = []
    for i in range(count):
        action, payload = build(i, rng)
        text = dumps([2, f"m{i}", action, payload]).decode()
        out.append(sign_frame(text, signer, ocpp=OCPP, station=STATION, timestamp=NOW))
    return out


def big_unsigned(count: int) -> list[str]:
    # An unsigned DataTransfer of 768,000 bytes: the largest inner frame ESP carries (its outer
    # frame just fits SPEC §2's 1 MiB).
    filler = "x" * (768_000 - 60)
    return [
        dumps([2, f"b{i}", "DataTransfer", {"vendorId": "com.example", "data": filler}]).decode()
        for i in range(count)
    ]


def timer(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(
    frames: list[str],
    suite_name: str,
    key_pair: EspPrivateKey,
    reply: EspPrivateKey,
    receiver: EspReceiver,
    verifier: Verifier,
    rounds: int,
) -> str:
    """One table row (after shape and suite): sizes, µs per frame, ratios to verify_frame."""

    def seal(frame: str) -> str:
        return encrypt_frame(
            frame,
            ocpp=OCPP,
            station=STATION,
            direction="toStation",
            recipient=key_pair.public,
            reply_to=reply.public,
            suite=suite_name,
            now=NOW,
        ).text

    sealed = [seal(f) for f in frames]

    def verify() -> None:
        for f in frames:
            verifier.verify_frame(f, ocpp=OCPP, station=STATION, now=NOW)

    def encrypt() -> None:
        for f in frames:
            seal(f)

    def decrypt() -> None:
        for s in sealed:
            opened = receiver.decrypt_frame(
                s, ocpp=OCPP, station=STATION, direction="toStation", now=NOW
            )
            assert opened.ok, opened.reason

    enc_ratios, dec_ratios, enc_times, dec_times = [], [], [], []
    for r in range(rounds):
        order = [verify, encrypt, decrypt] if r % 2 else [decrypt, encrypt, verify]
        times = {fn.__name__: timer(fn) for fn in order}
        enc_ratios.append(times["encrypt"] / times["verify"])
        dec_ratios.append(times["decrypt"] / times["verify"])
        enc_times.append(times["encrypt"] / len(frames))
        dec_times.append(times["decrypt"] / len(frames))
    inner = sum(len(f.encode()) for f in frames) // len(frames)
    outer = sum(len(s.encode()) for s in sealed) // len(sealed)
    return (
        f"{inner:,} | {outer:,} | {outer - inner:,} ({(outer - inner) / inner:.0%}) "
        f"| {median(enc_times) * 1e6:,.0f} | {median(dec_times) * 1e6:,.0f} "
        f"| {median(enc_ratios):.2f} | {median(dec_ratios):.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    key = ed25519.Ed25519PrivateKey.generate()
    signer = KeySigner(key)
    verifier = Verifier(keyring_for(key))
    shapes = [
        ("768,000 B unsigned (the limit)", big_unsigned(3)),
        ("NotifyReport ~300 KB", frames_of(notify_report(1000), 5, signer)),
        ("NotifyReport ~30 KB", frames_of(notify_report(100), 40, signer)),
        ("SetChargingProfile", frames_of(set_charging_profile, 300, signer)),
        ("Heartbeat", frames_of(heartbeat, 1000, signer)),
    ]
    keys = {
        "X25519": generate_esp_key("X25519"),
        "ML-KEM-768+X25519": generate_esp_key("ML-KEM-768+X25519"),
    }
    reply = generate_esp_key("X25519")
    receiver = EspReceiver(
        list(keys.values()), reply_keys=EspKeyring([EspKeyInfo(reply.public, "csms")])
    )
    load_before = load_average()
    print(f"load average before: {load_before}")
    print(
        "| shape | suite | inner bytes | outer bytes | added | encrypt µs | decrypt µs "
        "| encrypt / verify | decrypt / verify |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, frames in shapes:
        for suite_name, suite in SUITES.items():
            row = measure(
                frames,
                suite_name,
                keys[suite.key_type.value],
                reply,
                receiver,
                verifier,
                args.rounds,
            )
            print(f"| {name} | {suite_name} | {row}")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
