"""Fleet audit on Dask: frames per second and memory, one process against 1 and 2 Dask workers.

    .venv/bin/python benchmarks/bench_dask.py [--stations 2000] [--frames 400000] [--files 16]
                                              [--rounds 1]

Generates a fleet log: ``--files`` gzip JSON Lines files (one per time slice, as a daily rotation
writes them), ``--stations`` stations spread over all of them, ``--frames`` frames in all: signed
``MeterValues`` CALLs (Ed25519, 3 KB-class payloads are in bench_audit; these are ~700 bytes) each
followed by its unsigned CALLRESULT, so pairing works across the fleet. Then, in each round and in
turn: the single-process audit, the audit on a Dask cluster of 1 worker and of 2 workers (each a
``LocalCluster`` of processes started before the timer, so the figure is the engine's steady
state; the cluster start is reported apart). Ratios are medians of per-round ratios. Targets
(issue #18): 2 workers >= 1.7 x one process; 1 worker >= 0.9 x one process. Every run must give
the same report (checked). Peak memory: max RSS of this process and of each worker.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_audit import _policy  # the same policy: station-signed reports, unsigned answers

from ocpp_e2e.audit.cluster import Cluster
from ocpp_e2e.audit.logs import ReadOptions
from ocpp_e2e.audit.report import json_lines
from ocpp_e2e.audit.run import AuditSettings, audit_logs
from ocpp_e2e.keys import KeySigner, generate_private_key
from ocpp_e2e.sign import sign_frame

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def generate(folder: Path, stations: int, frames: int, files: int, signer: KeySigner) -> list[str]:
    """Write the fleet log; return the file names. Half the frames are CALLs, half answers."""
    calls = frames // 2
    per_file = -(-calls // files)
    names: list[str] = []
    for f in range(files):
        name = folder / f"fleet-{f:03d}.jsonl.gz"
        names.append(str(name))
        with gzip.open(name, "wt", compresslevel=1) as out:
            for i in range(f * per_file, min(calls, (f + 1) * per_file)):
                station = f"cs-{i % stations:05d}"
                at = T0 + timedelta(milliseconds=20 * i)
                ts = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
                payload = {"evseId": 1, "meterValue": [{"timestamp": ts, "sampledValue": [
                    {"value": i * 1.5, "measurand": "Energy.Active.Import.Register"},
                    {"value": 230.0, "measurand": "Voltage", "phase": "L1"}]}]}
                call = json.dumps([2, f"m{i}", "MeterValues", payload], separators=(",", ":"))
                text = sign_frame(call, signer, ocpp="2.0.1", station=station, timestamp=at)
                out.write(json.dumps({"ts": ts, "station": station, "direction": "toCSMS",
                                      "frame": text}) + "\n")
                answer = json.dumps([3, f"m{i}", {}], separators=(",", ":"))
                out.write(json.dumps({"ts": ts, "station": station, "direction": "toStation",
                                      "frame": answer}) + "\n")
    return names


def _burn(n: int) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - start


def machine_parallelism() -> float:
    """How much faster two processes burn pure-Python work than one: the ceiling of any
    2-worker speedup on this machine (2.0 on two idle physical cores)."""
    import multiprocessing

    n = 10_000_000
    alone = _burn(n)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_burn, [1, 1])  # both processes started before the timer
        start = time.perf_counter()
        pool.map(_burn, [n, n])
        together = time.perf_counter() - start
    return 2 * alone / together


def _strip(lines: list[str]) -> list[str]:
    return [line for line in lines if '"type": "summary"' not in line and '"type":"summary"' not in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=400_000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    import logging

    import dask
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.CRITICAL)

    ceiling = machine_parallelism()
    print(f"machine parallelism: two processes do {ceiling:.2f}x the pure-Python work of one "
          "(the ceiling of a 2-worker speedup here)")
    signer = KeySigner(generate_private_key("Ed25519"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        policy = folder / "policy.json"
        policy.write_text(json.dumps(_policy(signer)))
        t = time.perf_counter()
        names = generate(folder, args.stations, args.frames, args.files, signer)
        size = sum(os.path.getsize(n) for n in names)
        print(f"fleet log: {args.frames} frames, {args.stations} stations, {args.files} files, "
              f"{size / 1e6:.1f} MB gzip (written in {time.perf_counter() - t:.0f} s)")
        settings = AuditSettings(policy=str(policy))
        clusters = {}
        for n in (1, 2):
            t = time.perf_counter()
            with dask.config.set({"distributed.worker.profile.enabled": False}):  # as the CLI's
                lc = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0")
            client = Client(lc)
            clusters[n] = (lc, client)
            print(f"LocalCluster of {n} worker(s) started in {time.perf_counter() - t:.1f} s")
        rates: dict[str, list[float]] = {"one process": [], "dask 1 worker": [], "dask 2 workers": []}
        reference: list[str] | None = None
        for r in range(args.rounds):
            runs = [("one process", None)] + [
                (f"dask {n} worker{'s' if n > 1 else ''}",
                 Cluster(address=clusters[n][1].scheduler.address, scratch=str(folder / f"scratch-{n}")))
                for n in (1, 2)
            ]
            for label, cluster in runs:
                t = time.perf_counter()
                report = audit_logs(names, ReadOptions(), settings, cluster=cluster)
                seconds = time.perf_counter() - t
                lines = _strip(list(json_lines(report)))
                if reference is None:
                    reference = lines
                assert lines == reference, f"{label}: the report differs from one process's"
                frames = report.summary.to_dict()["frames"]
                rates[label].append(frames / seconds)
                print(f"round {r + 1}: {label:15s} {frames / seconds:9.0f} frames/s ({seconds:.1f} s)")
        one = rates["one process"]
        for label in ("dask 1 worker", "dask 2 workers"):
            ratio = statistics.median(x / y for x, y in zip(rates[label], one, strict=True))
            print(f"{label}: median {statistics.median(rates[label]):.0f} frames/s, "
                  f"ratio to one process {ratio:.2f}")
        print(f"one process: median {statistics.median(one):.0f} frames/s")
        for n, (lc, client) in clusters.items():
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            print(f"peak RSS of the {n}-worker cluster's workers: "
                  + ", ".join(f"{kb / 1024:.0f} MiB" for kb in peaks.values()))
            client.close()
            lc.close()
        print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
