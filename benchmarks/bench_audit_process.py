"""The audit command as users run it: the whole process, start included, on every frame shape.

For each shape of ``shapes.py`` (20,000 frames of 3 KB, 2,000 of 30 KB by default; 16 stations,
signed CALLs captured as gzip JSON Lines ``{"ts", "station", "direction", "frame"}``), the
benchmark runs ``ocpp-e2e audit LOG --policy P --json`` as a child process and measures, in the
same rounds, a bare ``cryptography`` Ed25519 verify over a sample of the same signing inputs. It
prints per shape: frames per CPU second of the whole audit process (start included: the child's
own CPU time, robust against the load of a shared machine), that rate relative to the bare verify
rate (the median of per-round ratios), the same from wall time, and the child's peak memory (max
RSS). ``--before DIR`` runs the same audits with the ``ocpp_e2e`` package of another checkout
(``git worktree add /tmp/before <commit>``), interleaved in the same rounds, for before/after
columns. ``--two-workers`` also runs each audit on a local Dask cluster of two workers (needs two
idle cores to mean anything). Then the start of the command: CPU and wall time of ``--help``,
``audit --help`` and an audit of a log of one frame (medians of 5), and ``python -X importtime``
of that audit. Run:

    nice -n 19 .venv/bin/python benchmarks/bench_audit_process.py [--frames 20000] [--only 'Meter;30 KB']
        [--rounds 3] [--before /tmp/before] [--two-workers]
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
from shapes import NOW, SHAPES, Shape, build_shape, load_average, median

from ocpp_e2e.keys import KeySigner, load_spki, public_key_to_pem

ROOT = Path(__file__).resolve().parent.parent
# The command as its console script runs it, from the package of a given checkout (its folder
# first on sys.path), so that a "before" checkout runs exactly the same way. At exit it writes its
# peak memory (VmHWM) on stderr: the max RSS that wait4 reports would include the pages of this
# benchmark process, which the child had before it started Python (Linux keeps the larger).
LAUNCH = (
    "import atexit, sys\n"
    "def peak():\n"
    "    with open('/proc/self/status') as f:\n"
    "        kb = [l.split()[1] for l in f if l.startswith('VmHWM:')][0]\n"
    "    sys.stderr.write(f'\\nVmHWM {kb}\\n')\n"
    "atexit.register(peak)\n"
    "sys.argv[0] = 'ocpp-e2e'\n"
    "from ocpp_e2e.cli import main\n"
    "main()\n"
)


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


def run_child(checkout: Path, args: list[str]) -> tuple[float, float, float, int, list[bytes]]:
    """Run ``ocpp-e2e ARGS`` from ``checkout``: (wall s, CPU s, peak RSS MiB, status, stdout)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    }
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *args], stdout=out, stderr=err, cwd=checkout, env=env
        )
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().splitlines()
        err.seek(0)
        said = err.read().decode(errors="replace")
        if code not in (0, 1):
            raise SystemExit(f"{checkout}: ocpp-e2e {args[:2]} failed: {said[-2000:]}")
    peak = re.findall(r"^VmHWM (\d+)$", said, re.MULTILINE)
    return wall, usage.ru_utime + usage.ru_stime, int(peak[-1]) / 1024, code, lines


def audit_child(
    checkout: Path, log: Path, policy: Path, workers: int
) -> tuple[float, float, float]:
    """Run the audit command; (wall s, CPU s of it, its peak RSS MiB)."""
    args = ["audit", str(log), "--policy", str(policy), "--json", "--workers", str(workers)]
    wall, cpu, rss, _code, lines = run_child(checkout, args)
    # Every frame permitted with a valid signature; findings about CALLs that no response
    # answers (the log holds only CALLs) are expected.
    summary = json.loads(lines[-1]) if lines else {}
    if summary.get("verdicts", {}).get("permit-signed") != summary.get("frames"):
        raise SystemExit(f"{log}: not every frame passed: {lines[-1][:500]!r}")
    return wall, cpu, rss


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
        "--only", default=None, help="shapes whose name contains one of these (separated by ;)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per shape")
    parser.add_argument("--before", type=Path, default=None, help="checkout to compare with")
    parser.add_argument("--two-workers", action="store_true", help="also run on 2 Dask workers")
    args = parser.parse_args()
    checkouts = {"after": ROOT}
    if args.before is not None:
        checkouts = {"before": args.before.resolve(), "after": ROOT}
    rows = []
    print(f"load average at start: {load_average()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.json"
        policy.write_text(json.dumps(policy_for(KEY)))
        for name, (payload, writer, _count) in SHAPES.items():
            if args.only is not None and not any(
                part.strip().lower() in name.lower() for part in args.only.split(";")
            ):
                continue
            frames = args.frames // 10 if "30 KB" in name else args.frames
            shape = build_shape(name, payload, writer, frames, KEY, stations=16, sample=300)
            log = Path(tmp) / "log.jsonl.gz"
            write_log(log, shape)
            cpu_ratio: dict[str, list[float]] = {k: [] for k in checkouts}
            wall_ratio: dict[str, list[float]] = {k: [] for k in checkouts}
            rate: dict[str, list[float]] = {k: [] for k in checkouts}
            rss: dict[str, float] = dict.fromkeys(checkouts, 0.0)
            two: list[float] = []
            for _ in range(args.rounds):
                bare = bare_rate(shape)
                runs = {
                    label: audit_child(checkout, log, policy, 1)
                    for label, checkout in checkouts.items()
                }
                # The faster of the bare rates measured before and after the audits: a bare run
                # lasts 0.1 s, and one slowed by a neighbour's burst would flatter the ratio.
                bare = max(bare, bare_rate(shape))
                for label, checkout in checkouts.items():
                    wall, cpu, peak = runs[label]
                    rate[label].append(frames / cpu)
                    cpu_ratio[label].append(frames / cpu / bare)
                    wall_ratio[label].append(frames / wall / bare)
                    rss[label] = max(rss[label], peak)
                    if args.two_workers and label == "after":
                        two.append(wall / audit_child(checkout, log, policy, 2)[0])
            rows.append((name, shape.size, frames, cpu_ratio, wall_ratio, rate, rss, two))
            print(f"  {name}: done ({load_average()})", flush=True)
        tiny = build_shape("start", SHAPES["Heartbeat"][0], SHAPES["Heartbeat"][1], 1, KEY)
        log = Path(tmp) / "one.jsonl.gz"
        write_log(log, tiny)
        commands = {
            "--help": ["--help"],
            "audit --help": ["audit", "--help"],
            "audit of a one-frame log": ["audit", str(log), "--policy", str(policy), "--json"],
        }
        starts: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(5):
            for what, argv in commands.items():
                for label, checkout in checkouts.items():
                    wall, cpu, _rss, _code, _out = run_child(checkout, argv)
                    starts.setdefault((what, label), []).append((cpu, wall))
        imported = {}
        for label, checkout in checkouts.items():
            trace = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", LAUNCH, *commands["audit of a one-frame log"]],
                capture_output=True, text=True, cwd=checkout,
                env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            ).stderr.splitlines()  # fmt: skip
            imported[label] = sum(
                int(re.split(r"\|", line)[1])
                for line in trace
                if line.startswith("import time:") and re.match(r"import time: +\d+ \| +\d+ \| \S", line)
            ) / 1e6  # fmt: skip
    print(f"load average at end: {load_average()}")
    labels = list(checkouts)
    head = " | ".join(
        f"{label}: frames/CPU s | / bare (CPU) | / bare (wall) | peak RSS" for label in labels
    )
    print(
        f"| shape | size | frames | {head} |"
        + (" 2 workers / 1 (wall) |" if args.two_workers else "")
    )
    print("|---|---|---|" + "---|---|---|---|" * len(labels) + ("---|" if args.two_workers else ""))
    for name, size, frames, cpu_ratio, wall_ratio, rate, rss, two in sorted(
        rows, key=lambda r: median(r[3]["after"])
    ):
        cells = " | ".join(
            f"{median(rate[k]):,.0f} | {median(cpu_ratio[k]):.2f} | {median(wall_ratio[k]):.2f} "
            f"| {rss[k]:.0f} MiB"
            for k in labels
        )
        extra = f" {median(two):.2f} |" if two else ""
        print(f"| {name} | {size:,} B | {frames:,} | {cells} |{extra}")
    print()
    print("| command start | " + " | ".join(f"{k}: CPU s | wall s" for k in labels) + " |")
    print("|---|" + "---|---|" * len(labels))
    for what in commands:
        cells = " | ".join(
            f"{median([c for c, _ in starts[(what, k)]]):.2f} | "
            f"{median([w for _, w in starts[(what, k)]]):.2f}"
            for k in labels
        )
        print(f"| {what} | {cells} |")
    said = ", ".join(f"{k} {v:.2f} s" for k, v in imported.items())
    print(f"python -X importtime, top-level imports of the one-frame audit: {said}")


if __name__ == "__main__":
    main()
