"""No cliffs: what one character or one number anywhere in a frame costs verify_frame.

Two 3 KB base shapes (MeterValues with integers, NotifyReport in ASCII) are perturbed in one place
each: a character appended to a string value or to a member name (written as UTF-8 by orjson and
as the ``ocpp`` package writes it, with ``\\u`` escapes), or one number replaced (integral floats,
-0.0, exponents RFC 8785 writes without one, subnormals, 15 significant digits, 2^53−1). Every
variant is its own set of distinct signed frames. Each round times the base and every variant in
turn; the printed cost is the median over rounds of (variant time / base time) per frame — the
goal is at most 2× — together with the variant's ratio to a bare Ed25519 verify of its own
signing inputs. Times are CPU time of this process. Worst first. Run:

    nice -n 19 .venv/bin/python benchmarks/bench_perturb.py --rounds 15
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from shapes import (
    NOW,
    OCPP,
    STATION,
    Payload,
    Shape,
    build_shape,
    keyring_for,
    load_average,
    median,
    meter_values,
    notify_report,
    write_ocpp,
    write_orjson,
)

from ocpp_e2e.verify import Verifier

CHARACTERS = {
    "é": "é",
    "U+FFFD": "\ufffd",
    "U+E000": "\ue000",
    "emoji U+1F50C": "\U0001f50c",
    "\\u001b": "\x1b",
    '"': '"',
    "\\": "\\",
    "\\n": "\n",
    "U+2028": "\u2028",
    "U+007F": "\x7f",
}
NUMBERS: dict[str, Any] = {
    "1234.0": 1234.0,
    "0.0": 0.0,
    "-0.0": -0.0,
    "1.5e-06": 1.5e-6,
    "2.5e+16": 2.5e16,
    "1e+21": 1e21,
    "1e-07": 1e-7,
    "1e-300": 1e-300,
    "5e-324 (subnormal)": 5e-324,
    "1234.56789012345": 1234.56789012345,
    "2^53-1": 2**53 - 1,
    "-2^53+1": -(2**53) + 1,
}


def _integer(rng: random.Random) -> int:
    return rng.randint(0, 5_000_000)


def perturbed(base: Payload, change: Callable[[dict[str, Any]], None]) -> Payload:
    def build(i: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
        action, body = base(i, rng)
        change(body)
        return action, body

    return build


def set_number(number: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["meterValue"][0]["sampledValue"][8]["value"] = number

    return change


def add_to_value(ch: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        attribute = body["reportData"][4]["variableAttribute"][0]
        attribute["value"] += ch

    return change


def add_to_name(ch: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        attribute = body["reportData"][4]["variableAttribute"][0]
        attribute["mutability" + ch] = attribute.pop("mutability")

    return change


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--frames", type=int, default=60, help="frames per variant")
    args = parser.parse_args()
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key()
    verifier = Verifier(keyring_for(key))
    n = args.frames

    meter = meter_values(_integer)
    report = notify_report(9)
    bases = {
        "MeterValues": build_shape("MeterValues base", meter, write_orjson, n, key),
        "NotifyReport": build_shape("NotifyReport base", report, write_orjson, n, key),
    }
    variants: list[tuple[str, str, Shape]] = []
    for label, number in NUMBERS.items():
        variants.append(
            (
                "MeterValues",
                f"number {label}",
                build_shape(label, perturbed(meter, set_number(number)), write_orjson, n, key),
            )
        )
    for label, ch in CHARACTERS.items():
        for place, change in (("in a value", add_to_value), ("in a member name", add_to_name)):
            for writer_name, writer in (("UTF-8", write_orjson), ("ocpp package", write_ocpp)):
                variants.append(
                    (
                        "NotifyReport",
                        f"{label} {place}, {writer_name}",
                        build_shape(label, perturbed(report, change(ch)), writer, n, key),
                    )
                )

    def run_verify(shape: Shape) -> float:
        check = verifier.verify_frame
        t0 = time.process_time()
        for frame in shape.frames:
            if (
                not check(frame, ocpp=OCPP, station=STATION, now=NOW)
                .verification.signatures[0]
                .valid
            ):
                raise SystemExit(f"{shape.name}: a frame did not verify")
        return time.process_time() - t0

    def run_bare(shape: Shape) -> float:
        verify = public.verify
        t0 = time.process_time()
        for data, value in shape.inputs:
            verify(value, data)
        return time.process_time() - t0

    load_before = load_average()
    cost: dict[str, list[float]] = {}
    to_bare: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        base_times = {name: run_verify(shape) for name, shape in bases.items()}
        for base_name, label, shape in variants:
            t_bare = run_bare(shape)
            t = run_verify(shape)
            key_ = f"{base_name}: {label}"
            cost.setdefault(key_, []).append(t / base_times[base_name])
            to_bare.setdefault(key_, []).append(t_bare / t)
    load_after = load_average()
    print(f"load average before: {load_before}; after: {load_after}; rounds: {args.rounds}")
    print(
        "| perturbation (one place in a 3 KB frame) | cost vs unperturbed | verify_frame / bare |"
    )
    print("|---|---|---|")
    rows = sorted(cost, key=lambda k: -median(cost[k]))
    for k in rows:
        print(f"| {k} | {median(cost[k]):.2f}× | {median(to_bare[k]):.2f} |")
    worst = rows[0]
    print(f"worst: {worst}: {median(cost[worst]):.2f}× (goal: at most 2×)")


if __name__ == "__main__":
    main()
