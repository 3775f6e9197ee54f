"""The audit command as users run it: the whole process, start included, on every frame shape.

For each shape of ``shapes.py`` (20,000 frames of 3 KB, 2,000 of 30 KB by default; 16 stations,
signed CALLs captured as gzip JSON Lines ``{"ts", "station", "direction", "frame"}``), the
benchmark runs ``ocpp-e2e audit LOG --policy P --json`` as a child process with 1 and 2 workers
and measures in the same run a bare ``cryptography`` Ed25519 verify over a sample of the same
signing inputs. It prints, per shape, frames per second of the whole process (wall time, start
included) relative to the bare verify rate, the same from the child's CPU time (robust against
the load of a shared machine), two workers relative to one (wall time: needs two idle cores),
and the child's peak memory (max RSS). Then the start of the command alone (an audit of a log of
one frame) and ``python -X importtime`` of the audit command. Run:

    nice -n 19 .venv/bin/python benchmarks/bench_audit_process.py [--frames 20000] [--only Meter]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519
from shapes import NOW, SHAPES, Shape, build_shape, load_average

from ocpp_e2e.keys import KeySigner, load_spki, public_key_to_pem

COMMAND = str(Path(sys.executable).parent / "ocpp-e2e")


def policy_for(key: ed25519.Ed25519PrivateKey) -> dict[str, object]:
    pem = public_key_to_pem(load_spki(KeySigner(key).public_key_der)).decode("ascii")
    return {
        "type": "SignaturePolicy",
        "id": "bench",
        "version": 1,
        "maxSignatureAge": "PT5M",
        "keys": [{"publicKey": pem, "name": "stations", "roles": ["station"]}],
        "rules": [
            {
                "id": "station-messages",
                "effect": "permit",
                "match": {"kinds": ["request"]},
                "signers": {"roles": ["station"]},
            }
        ],
    }


def write_log(path: Path, shape: Shape) -> None:
    with gzip.open(path, "wt", compresslevel=1) as out:
        for i, (frame, station) in enumerate(zip(shape.frames, shape.stations, strict=True)):
            at = NOW + timedelta(milliseconds=5 * i)
            ts = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
            record = {"ts": ts, "station": station, "direction": "toCSMS", "frame": frame.decode()}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def audit_child(log: Path, policy: Path, workers: int) -> tuple[float, float, float]:
    """Run the audit command; (wall s, CPU s of it and its workers, its peak RSS MiB)."""
    argv = [COMMAND, "audit", str(log), "--policy", str(policy), "--json", "--workers", str(workers)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().splitlines()
        if child.returncode not in (0, 1) or not lines:
            err.seek(0)
            raise SystemExit(f"{log}: the audit failed: {err.read().decode()[-2000:]}")
    # Every frame permitted with a valid signature; findings about CALLs that no response
    # answers (the log holds only CALLs) are expected.
    summary = json.loads(lines[-1])
    if summary.get("verdicts", {}).get("permit-signed") != summary.get("frames"):
        raise SystemExit(f"{log}: not every frame passed: {lines[-1][:500]!r}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def bare_rate(shape: Shape) -> float:
    """Bare Ed25519 verifies per CPU second over the shape's sample of signing inputs."""
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        for data, value in shape.inputs:
            KEY.public_key().verify(value, data)
        best = min(best, time.process_time() - t0)
    return len(shape.inputs) / best


KEY = ed25519.Ed25519PrivateKey.generate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20_000, help="frames per 3 KB shape")
    parser.add_argument(
        "--only", default=None, help="shapes whose name contains one of these (comma-separated)"
    )
    args = parser.parse_args()
    rows = []
    print(f"load average at start: {load_average()}")
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.json"
        policy.write_text(json.dumps(policy_for(KEY)))
        for name, (payload, writer, _count) in SHAPES.items():
            if args.only is not None and not any(
                part.strip().lower() in name.lower() for part in args.only.split(",")
            ):
                continue
            frames = args.frames // 10 if "30 KB" in name else args.frames
            shape = build_shape(name, payload, writer, frames, KEY, stations=16, sample=300)
            log = Path(tmp) / "log.jsonl.gz"
            write_log(log, shape)
            bare = bare_rate(shape)
            wall1, cpu1, rss1 = audit_child(log, policy, 1)
            wall2, _cpu2, rss2 = audit_child(log, policy, 2)
            rows.append(
                (
                    name,
                    shape.size,
                    frames,
                    frames / wall1 / bare,
                    frames / cpu1 / bare,
                    wall1 / wall2,
                    max(rss1, rss2),
                )
            )
            print(f"  {name}: done ({load_average()})", flush=True)
        tiny = build_shape("start", SHAPES["Heartbeat"][0], SHAPES["Heartbeat"][1], 1, KEY)
        log = Path(tmp) / "one.jsonl.gz"
        write_log(log, tiny)
        starts = sorted(audit_child(log, policy, 1)[:2] for _ in range(5))
    importtime = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import ocpp_e2e.cli.audit"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr.splitlines()[-1]
    imported = int(re.split(r"\|", importtime)[1]) / 1e6
    print(f"load average at end: {load_average()}")
    print(
        "| shape | size | frames | whole process / bare verify (wall) | (CPU) "
        "| 2 workers / 1 (wall) | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, size, frames, wall, cpu, two, rss in sorted(rows, key=lambda r: r[4]):
        print(
            f"| {name} | {size:,} B | {frames:,} | {wall:.2f} | {cpu:.2f} | {two:.2f} "
            f"| {rss:.0f} MiB |"
        )
    wall_start, cpu_start = starts[len(starts) // 2]
    print(
        f"command start (audit of a one-frame log, median of 5): {wall_start:.2f} s wall, "
        f"{cpu_start:.2f} s CPU; python -X importtime of the audit command: {imported:.2f} s"
    )


if __name__ == "__main__":
    main()
