"""Audit throughput: frames per second with 1 and 2 workers beside the bare Ed25519 verify rate.

    .venv/bin/python benchmarks/bench_audit.py [--frames 200000]

Generates a normalized log (gzip JSON Lines) of signed CALLs (Ed25519 ``MeterValues``, lines of
about 600 bytes, 16 stations, no responses) and measures in the same run: the bare Ed25519 verify
rate of ``cryptography`` over the same signing inputs, then the whole audit (reading, parsing,
pairing, verification, replay cache, policy, meter value check, summary) with 1 and 2 workers.
Targets (issue #5): 1 worker >= 0.6 of the bare verify rate; 2 workers >= 1.7 x 1 worker. Peak
memory (max RSS of this process and of the workers) is printed too.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ocpp_e2e.audit.logs import ReadOptions
from ocpp_e2e.audit.run import AuditSettings, audit_logs
from ocpp_e2e.keys import KeySigner, generate_private_key, load_spki, public_key_to_pem
from ocpp_e2e.sign import sign_frame

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _policy(signer: KeySigner) -> dict[str, object]:
    pem = public_key_to_pem(load_spki(signer.public_key_der)).decode("ascii")
    return {
        "type": "SignaturePolicy",
        "id": "bench",
        "version": 1,
        "maxSignatureAge": "PT5M",
        "keys": [{"publicKey": pem, "name": "stations", "roles": ["station"]}],
        "rules": [
            {"id": "reports", "effect": "permit", "match": {"kinds": ["request"]}, "signers": {"roles": ["station"]}},
            {"id": "answers", "effect": "permit", "match": {"kinds": ["response"]}, "signers": "none"},
        ],
    }


def generate(path: Path, frames: int, signer: KeySigner, stations: int = 16) -> list[tuple[bytes, bytes]]:
    """Write ``frames`` signed CALLs; return (signature, signing input) pairs of the first 20,000
    for the bare verify measurement."""
    from ocpp_e2e.canonical import dumps
    from ocpp_e2e.context import frame_context

    sample: list[tuple[bytes, bytes]] = []
    with gzip.open(path, "wt", compresslevel=1) as out:
        for i in range(frames):
            station = f"cs-{i % stations:04d}"
            at = T0 + timedelta(milliseconds=50 * i)
            payload = {"evseId": 1, "meterValue": [{"timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "sampledValue": [{"value": i * 1.5, "measurand": "Energy.Active.Import.Register"}]}]}
            call = json.dumps([2, f"m{i}", "MeterValues", payload], separators=(",", ":"))
            text = sign_frame(call, signer, ocpp="2.0.1", station=station, timestamp=at)
            ts = at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            out.write(json.dumps({"ts": ts, "station": station, "direction": "toCSMS", "frame": text}) + "\n")
            if len(sample) < 20000:
                frame = json.loads(text)
                sig = dict(frame[3]["customData"]["signatures"][0])
                from ocpp_e2e._b64 import b64url_decode

                value = b64url_decode(sig.pop("value"))
                body = {k: v for k, v in frame[3].items() if k != "customData"}
                ctx = frame_context("2.0.1", station, "MeterValues", "request")
                sample.append((value, dumps({"context": ctx, "payload": body, "signature": sig})))
    return sample


def bare_rate(signer: KeySigner, sample: list[tuple[bytes, bytes]]) -> float:
    key = load_spki(signer.public_key_der)
    start = time.perf_counter()
    for value, data in sample:
        key.verify(value, data)  # type: ignore[call-arg]
    return len(sample) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200_000)
    args = parser.parse_args()
    signer = KeySigner(generate_private_key("Ed25519"))
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "bench.jsonl.gz"
        policy = Path(tmp) / "policy.json"
        policy.write_text(json.dumps(_policy(signer)))
        t = time.perf_counter()
        sample = generate(log, args.frames, signer)
        print(f"generated {args.frames} signed frames in {time.perf_counter() - t:.1f} s ({log.stat().st_size >> 20} MiB gzip)")
        bare = bare_rate(signer, sample)
        settings = AuditSettings(policy=str(policy), now=datetime.now(UTC))
        rates = {}
        for workers in (1, 2):
            start = time.perf_counter()
            report = audit_logs([str(log)], ReadOptions(), settings, workers=workers)
            rates[workers] = args.frames / (time.perf_counter() - start)
            assert report.summary.to_dict()["findings"] == 0, report.findings[:3]
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"bare Ed25519 verify:   {bare:10.0f} verifies/s")
    print(f"audit, 1 worker:       {rates[1]:10.0f} frames/s  = {rates[1] / bare:.2f} x bare verify (target >= 0.6)")
    print(f"audit, 2 workers:      {rates[2]:10.0f} frames/s  = {rates[2] / rates[1]:.2f} x 1 worker (target >= 1.7)")
    print(f"peak memory: parent {self_rss:.0f} MiB max RSS, largest worker {child_rss:.0f} MiB max RSS")


if __name__ == "__main__":
    main()
