"""verify_frame and sign_frame against a bare Ed25519 verify/sign, on every shape of shapes.py.

For each shape, each round times a bare ``cryptography`` Ed25519 verify over the shape's signing
inputs and ``Verifier.verify_frame`` over its frames (and, with ``--sign``, a bare sign and
``sign_frame``), one right after the other, in alternating order; the printed ratio is the median
over the rounds of the per-round ratios (throughput of ours / throughput of bare), so load from
other processes slows both sides alike. Times are CPU time of this process (time slices lost to
the other processes of a shared machine do not count). Worst shapes first. Run:

    nice -n 19 .venv/bin/python benchmarks/bench_shapes.py --rounds 15 [--sign] [--only 30 KB]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ed25519
from shapes import NOW, OCPP, STATION, Shape, build_all, keyring_for, load_average, median

from ocpp_e2e.keys import KeySigner
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.verify import Verifier


def timer(fn: Callable[[], None]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--only", default=None, help="shapes whose name contains this")
    parser.add_argument("--scale", type=float, default=1.0, help="frames per shape, relative")
    parser.add_argument("--sign", action="store_true", help="also measure sign_frame")
    args = parser.parse_args()

    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key()
    signer = KeySigner(key)
    verifier = Verifier(keyring_for(key))
    shapes = build_all(key, args.only, args.scale)
    load_before = load_average()

    def bare_verify(shape: Shape) -> Callable[[], None]:
        def run() -> None:
            verify = public.verify
            for data, value in shape.inputs:
                verify(value, data)

        return run

    def ours_verify(shape: Shape) -> Callable[[], None]:
        def run() -> None:
            check = verifier.verify_frame
            for frame in shape.frames:
                if (
                    not check(frame, ocpp=OCPP, station=STATION, now=NOW)
                    .verification.signatures[0]
                    .valid
                ):
                    raise SystemExit(f"{shape.name}: a frame did not verify")

        return run

    def bare_sign(shape: Shape) -> Callable[[], None]:
        def run() -> None:
            sign = key.sign
            for data, _ in shape.inputs:
                sign(data)

        return run

    def ours_sign(shape: Shape) -> Callable[[], None]:
        def run() -> None:
            for frame in shape.unsigned:
                sign_frame(frame, signer, ocpp=OCPP, station=STATION, timestamp=NOW)

        return run

    verify_ratios: dict[str, list[float]] = {s.name: [] for s in shapes}
    sign_ratios: dict[str, list[float]] = {s.name: [] for s in shapes}
    per_frame: dict[str, list[float]] = {s.name: [] for s in shapes}
    for r in range(args.rounds):
        for shape in shapes:
            pairs = [(bare_verify(shape), ours_verify(shape), verify_ratios)]
            if args.sign:
                pairs.append((bare_sign(shape), ours_sign(shape), sign_ratios))
            for bare, ours, into in pairs:
                if r % 2:
                    t_ours = timer(ours)
                    t_bare = timer(bare)
                else:
                    t_bare = timer(bare)
                    t_ours = timer(ours)
                into[shape.name].append(t_bare / t_ours)
                if into is verify_ratios:
                    per_frame[shape.name].append(t_ours / len(shape.frames) * 1e6)
    load_after = load_average()

    print(f"load average before: {load_before}; after: {load_after}; rounds: {args.rounds}")
    header = "| shape | size | verify_frame µs | verify_frame / bare verify |"
    if args.sign:
        header += " sign_frame / bare sign |"
    print(header)
    print("|---|---|---|---|" + ("---|" if args.sign else ""))
    for shape in sorted(shapes, key=lambda s: median(verify_ratios[s.name])):
        line = (
            f"| {shape.name} | {shape.size:,} B | {median(per_frame[shape.name]):.1f} "
            f"| {median(verify_ratios[shape.name]):.2f} |"
        )
        if args.sign:
            line += f" {median(sign_ratios[shape.name]):.2f} |"
        print(line)


if __name__ == "__main__":
    main()
