"""Fleet audit on Dask: frames per second, CPU and memory, one process against 1 and 2 Dask workers.

    .venv/bin/python benchmarks/bench_dask.py [--stations 2000] [--frames 200000] [--files 16]
                                              [--rounds 3] [--embedded]

Generates a fleet log: ``--files`` gzip JSON Lines files (one per time slice, as a daily rotation
writes them), ``--stations`` stations spread over all of them, ``--frames`` frames in all: signed
``MeterValues`` CALLs (Ed25519, ~700 bytes; 3 KB-class payloads are in bench_audit) each followed
by its unsigned CALLRESULT, so pairing works across the fleet. Then, in each round and in turn:

- ``one process``: the single-process audit, in a fresh process of its own (as ``ocpp-e2e audit``
  runs it; timed inside it, imports excluded), so that it does not share its interpreter with
  the clusters' schedulers and clients that live in this one;
- ``dask 1 worker``: a cluster of one worker, which audits in one pass (one task, no routing);
- ``dask 1 worker, 2 passes``: the same worker forced through the route and audit passes with
  4 partitions (the engine every larger cluster runs: its overhead on one core);
- ``dask 2 workers``: the two-pass engine on two workers (8 partitions);
- with ``--embedded``, ``dask 1 worker, embedded``: ``Cluster(workers=1)``, the cluster started
  and stopped by the audit itself, as ``--dask`` does on a one-core machine (start included).

The other clusters are ``LocalCluster``s of processes started before the timer, with the audit
preloaded (``preload=ocpp_e2e.audit.cluster``), so their figures are the engine's steady state;
their start is reported apart. Ratios are medians of per-round ratios: of wall time (frames/s),
and of CPU time (all processes of the engine: this one, which also hosts the scheduler, plus the
workers), which a loaded machine disturbs less. Each Dask run is split into phases from the
task stream: client until the first task starts, the route pass, the gap between the passes,
the audit pass, and the client's merge after the last task. A separate in-process measurement
gives the CPU time of the engine's own steps (routing, shard writing and reading) against the
audit. Targets (issue #18): 2 workers >= 1.7 x one process; 1 worker >= 0.9 x one process. The
2-worker ratio is also given against the machine's measured ceiling (two processes' pure-Python
throughput over one's). Every run must give the same report (checked). Peak memory: max RSS of
this process and of each worker.
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
from typing import Any

from bench_audit import _policy  # the same policy: station-signed reports, unsigned answers

from ocpp_e2e.audit import cluster as engine
from ocpp_e2e.audit.cluster import Cluster
from ocpp_e2e.audit.logs import ReadOptions, ReadStats
from ocpp_e2e.audit.report import json_lines
from ocpp_e2e.audit.run import AuditSettings, _work, audit_logs
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


def _worker_cpu() -> float:
    import psutil

    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def _cpu(clients: list[Any]) -> float:
    """CPU seconds of this process (client and schedulers), of its ended child processes (the
    workers of a cluster started by the audit) and of every worker of ``clients``."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = time.process_time() + children.ru_utime + children.ru_stime
    for client in clients:
        total += sum(client.run(_worker_cpu).values())
    return total


def _phases(stream: list[dict[str, Any]], start: float, end: float) -> dict[str, float]:
    """Seconds of each phase of one Dask run, from its task stream (start/end: client clock)."""
    def span(kind: str) -> tuple[float, float] | None:
        times = [(s["start"], s["stop"]) for task in stream if f"ocpp-e2e-{kind}" in task["key"]
                 for s in task["startstops"] if s["action"] == "compute"]
        return (min(a for a, _ in times), max(b for _, b in times)) if times else None

    route, audit = span("route"), span("audit")
    assert audit is not None
    first = route[0] if route else audit[0]
    phases = {"client until the first task": first - start}
    if route:
        phases["route pass"] = route[1] - route[0]
        phases["between the passes"] = audit[0] - route[1]
    phases["audit pass"] = audit[1] - audit[0]
    phases["client after the last task"] = end - audit[1]
    return phases


def one_process(names: list[str], policy: Path, out: Path) -> tuple[float, float]:
    """The single-process audit in a fresh Python process: (wall seconds, CPU seconds) of
    ``audit_logs`` alone; its JSON Lines report goes to ``out``."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, __file__, "--one-process", str(policy), str(out), *names],
        check=True, capture_output=True, text=True,
    )
    wall, cpu = json.loads(done.stdout.splitlines()[-1])
    return float(wall), float(cpu)


def _one_process_child(policy: str, out: str, names: list[str]) -> None:
    settings = AuditSettings(policy=policy, now=datetime.now(UTC))
    cpu, t = time.process_time(), time.perf_counter()
    report = audit_logs(names, ReadOptions(), settings)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    Path(out).write_text("\n".join(json_lines(report)))
    print(json.dumps([wall, cpu]))


def engine_steps(names: list[str], settings: AuditSettings, folder: Path) -> None:
    """CPU seconds, in this process, of the two-pass engine's own steps against the audit."""
    options = ReadOptions()

    def cpu(step: Any) -> tuple[float, Any]:
        t = time.process_time()
        result = step()
        return time.process_time() - t, result

    read, _ = cpu(lambda: sum(1 for _ in _work(names, options, ReadStats())))
    route, routed = cpu(lambda: [engine._route_file(i, n, options, 4, str(folder / "steps"))
                                 for i, n in enumerate(names)])
    shards: dict[int, list[str]] = {}
    for result in routed:
        for part, url in sorted(result.shards.items()):
            shards.setdefault(part, []).append(url)
    back, _ = cpu(lambda: sum(1 for urls in shards.values() for u in urls for _ in engine._read_shard(u)))
    audit, _ = cpu(lambda: [engine._audit_partition(settings, options.default_ocpp, urls)
                            for _, urls in sorted(shards.items())])
    size = sum(os.path.getsize(u) for urls in shards.values() for u in urls)
    print(f"engine steps in one process (CPU s): read the files {read:.2f}; route them to 4 "
          f"partitions and write the shards {route:.2f} ({size / 1e6:.0f} MB); read the shards "
          f"back {back:.2f}; audit the 4 partitions {audit:.2f} (includes reading the shards). "
          f"Routing and shards cost {(route + back) / audit:.1%} of the audit's CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--embedded", action="store_true", help="also time Cluster(workers=1), started by the audit")
    parser.add_argument("--one-process", nargs="+", help=argparse.SUPPRESS)  # the child's run
    args = parser.parse_args()
    if args.one_process:
        _one_process_child(args.one_process[0], args.one_process[1], args.one_process[2:])
        return

    import logging

    import dask
    from distributed import Client, LocalCluster, get_task_stream

    logging.getLogger("distributed").setLevel(logging.CRITICAL)

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
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
        settings = AuditSettings(policy=str(policy), now=datetime.now(UTC))
        engine_steps(names, settings, folder)
        clusters = {}
        for n in (1, 2):
            t = time.perf_counter()
            with dask.config.set({"distributed.worker.profile.enabled": False}):  # as the CLI's
                lc = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", preload=["ocpp_e2e.audit.cluster"])
            client = Client(lc)
            clusters[n] = (lc, client)
            print(f"LocalCluster of {n} worker(s) started in {time.perf_counter() - t:.1f} s "
                  "(audit preloaded)")
        clients = [client for _, client in clusters.values()]

        def remote(n: int, **kw: Any) -> Cluster:
            return Cluster(address=clusters[n][1].scheduler.address,
                           scratch=str(folder / f"scratch-{n}"), **kw)

        runs: list[tuple[str, Cluster | None, Any]] = [
            ("one process", None, None),
            ("dask 1 worker", remote(1), clusters[1][1]),
            ("dask 1 worker, 2 passes", remote(1, partitions=4), clusters[1][1]),
            ("dask 2 workers", remote(2), clusters[2][1]),
        ]
        if args.embedded:
            runs.append(("dask 1 worker, embedded", Cluster(workers=1), None))
        rates: dict[str, list[float]] = {label: [] for label, _, _ in runs}
        cpus: dict[str, list[float]] = {label: [] for label, _, _ in runs}
        phases: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in runs}
        reference: list[str] | None = None
        for r in range(args.rounds):
            for label, cluster, client in runs:
                if label == "one process":
                    out = folder / "one-process.jsonl"
                    seconds, cpu = one_process(names, policy, out)
                    lines = _strip(out.read_text().splitlines())
                    if reference is None:
                        reference = lines
                    assert lines == reference, "the single-process reports differ"
                    frames = json.loads(out.read_text().splitlines()[-1])["frames"]
                    rates[label].append(frames / seconds)
                    cpus[label].append(cpu)
                    print(f"round {r + 1}: {label:25s} {frames / seconds:7.0f} frames/s "
                          f"({seconds:5.1f} s wall, {cpu:5.1f} s CPU)  load {os.getloadavg()[0]:.2f}")
                    continue
                cpu = _cpu(clients)
                start = time.time()
                t = time.perf_counter()
                if client is not None:
                    with get_task_stream(client) as stream:
                        report = audit_logs(names, ReadOptions(), settings, cluster=cluster)
                    phases[label].append(_phases(stream.data, start, time.time()))
                else:
                    report = audit_logs(names, ReadOptions(), settings, cluster=cluster)
                seconds = time.perf_counter() - t
                cpu = _cpu(clients) - cpu
                lines = _strip(list(json_lines(report)))
                if reference is None:
                    reference = lines
                assert lines == reference, f"{label}: the report differs from one process's"
                frames = report.summary.to_dict()["frames"]
                rates[label].append(frames / seconds)
                cpus[label].append(cpu)
                print(f"round {r + 1}: {label:25s} {frames / seconds:7.0f} frames/s "
                      f"({seconds:5.1f} s wall, {cpu:5.1f} s CPU)  load {os.getloadavg()[0]:.2f}")
        one, one_cpu = rates["one process"], cpus["one process"]
        print(f"one process: median {statistics.median(one):.0f} frames/s, "
              f"{statistics.median(one_cpu):.1f} s CPU")
        for label, _, _ in runs[1:]:
            ratio = statistics.median(x / y for x, y in zip(rates[label], one, strict=True))
            cpu_ratio = statistics.median(y / x for x, y in zip(cpus[label], one_cpu, strict=True))
            line = (f"{label}: median {statistics.median(rates[label]):.0f} frames/s, ratio to one "
                    f"process {ratio:.2f} (per round: "
                    + ", ".join(f"{x / y:.2f}" for x, y in zip(rates[label], one, strict=True))
                    + f"); CPU ratio {cpu_ratio:.2f}")
            if label == "dask 2 workers":
                line += f"; {ratio / ceiling:.0%} of this machine's ceiling ({ceiling:.2f}x)"
            print(line)
            if phases[label]:
                names_ = phases[label][0].keys()
                print("    phases (median s): " + "; ".join(
                    f"{p} {statistics.median(x[p] for x in phases[label]):.2f}" for p in names_))
        for n, (lc, client) in clusters.items():
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            print(f"peak RSS of the {n}-worker cluster's workers: "
                  + ", ".join(f"{kb / 1024:.0f} MiB" for kb in peaks.values()))
            client.close()
            lc.close()
        print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
