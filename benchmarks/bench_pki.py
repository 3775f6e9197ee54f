"""Certificate-based vs keyring-based verification of 10,000 signed frames (issue #4).

Both verifiers check the same kind of frame signed by the same demo key (keys-example/
csms-operator, Ed25519); one trusts the key through the keyring, the other through the
certificate chain the signature carries (validated by ChainValidator, cached per chain).
Signing happens before timing; only verification is measured. Prints two ratios:

- end to end: certificate-carrying frames vs plain frames, both fully verified. This includes
  the cost of carrying about 1.3 KB of certificates in every frame (parsing, strict base64,
  canonicalizing and hashing a larger signing input), which is not chain validation;
- chain validation alone: ``ChainValidator.validate`` on a fresh copy of the chain bytes per
  message (as the verifier passes it), against the keyring-based verification of one frame.

    .venv/bin/python benchmarks/bench_pki.py [--messages 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ocpp_e2e.keys import Keyring, KeySigner, load_private_key
from ocpp_e2e.pki import ChainValidator, pem_chain_der
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.verify import Verifier

KEYS = Path(__file__).resolve().parent.parent / "keys-example"
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def frames(signer: KeySigner, count: int) -> list[str]:
    """``count`` distinct signed Reset requests (distinct timestamps and nonces)."""
    return [
        sign_frame(
            f'[2,"m-{i}","Reset",{{"type":"Immediate"}}]',
            signer,
            ocpp="2.0.1",
            station="cs-0001",
            timestamp=NOW - timedelta(milliseconds=i % 60_000),
        )
        for i in range(count)
    ]


def run(verifier: Verifier, texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        checked = verifier.verify_frame(text, ocpp="2.0.1", station="cs-0001", now=NOW)
        if not checked.verification.signatures[0].valid:
            raise SystemExit(f"benchmark frame did not verify: {checked.verification.to_dict()}")
    return time.perf_counter() - start


def _line(label: str, n: int, what: str, seconds: float) -> str:
    return f"{label:<19}{n} {what} in {seconds:.3f} s ({seconds / n * 1e6:.1f} µs each)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    key = load_private_key(KEYS / "csms-operator.key.pem")
    chain = pem_chain_der((KEYS / "csms-operator.chain.pem").read_bytes())
    by_keyring = frames(KeySigner(key), args.messages)
    by_certificate = frames(KeySigner(key, certificates=chain), args.messages)

    ring = Keyring.load(KEYS / "keyring.json")
    keyring_verifier = Verifier(ring, max_signature_age=timedelta(minutes=5))
    cert_verifier = Verifier(
        Keyring(),
        certificates=ChainValidator.from_files([KEYS / "root-ca.crt.pem"]),
        max_signature_age=timedelta(minutes=5),
    )
    # Interleaved rounds, best of each: the two measurements see the same machine state.
    keyring_best = cert_best = float("inf")
    for _ in range(args.rounds):
        keyring_best = min(keyring_best, run(keyring_verifier, by_keyring))
        cert_best = min(cert_best, run(cert_verifier, by_certificate))
    # Chain validation alone: fresh bytes objects per message and round, as the verifier decodes
    # them from base64 for every frame, so no cached hash of the chain helps.
    validator = ChainValidator.from_files([KEYS / "root-ca.crt.pem"])
    validation_best = float("inf")
    for _ in range(args.rounds):
        copies = [[bytes(bytearray(der)) for der in chain] for _ in range(args.messages)]
        start = time.perf_counter()
        for copy in copies:
            if not validator.validate(copy, at=NOW, now=NOW).ok:
                raise SystemExit("benchmark chain did not validate")
        validation_best = min(validation_best, time.perf_counter() - start)
    n = args.messages
    print(_line("keyring-based:", n, "frames", keyring_best))
    print(_line("certificate-based:", n, "frames", cert_best))
    print(_line("chain validation:", n, "chains", validation_best))
    print(f"ratio end to end, certificate/keyring: {cert_best / keyring_best:.3f}")
    print(
        "ratio (keyring verification + chain validation)/keyring verification: "
        f"{(keyring_best + validation_best) / keyring_best:.3f} (target <= 1.10)"
    )


if __name__ == "__main__":
    main()
