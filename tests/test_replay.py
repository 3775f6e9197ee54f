"""SPEC §4 replay caches: keyed by key id and the SHA-256 of the signing input (never by value),
kept until timestamp + maxSignatureAge + clockSkew, surviving restarts (SQLite)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ocpp_e2e._b64 import b64url_decode, b64url_encode
from ocpp_e2e.keys import Keyring, KeySigner
from ocpp_e2e.model import Outcome
from ocpp_e2e.replay import MemoryReplayCache, ReplayCache, SQLiteReplayCache
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.verify import Verifier

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
STATION = "cs-0001"
RESET = '[2, "42", "Reset", {"type": "Immediate"}]'
MAX_AGE = timedelta(minutes=5)
SKEW = timedelta(seconds=30)
# Group orders of the NIST curves (FIPS 186-4 / SEC 2).
ORDERS = {
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    "ES512": int(
        "01" + "F" * 64 + "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16
    ),
}


@pytest.fixture(scope="module")
def ring(signers: dict[str, KeySigner]) -> Keyring:
    ring = Keyring()
    for alg, signer in signers.items():
        ring.add(signer.public_key_der, name=alg)
    return ring


def verify(
    ring: Keyring, cache: ReplayCache | None, text: str, now: datetime = NOW
) -> list[Outcome]:
    verifier = Verifier(ring, max_signature_age=MAX_AGE, clock_skew=SKEW, replay_cache=cache)
    result = verifier.verify_frame(text, ocpp="2.0.1", station=STATION, now=now)
    return [s.outcome for s in result.verification.signatures]


def sign(signer: KeySigner | list[KeySigner], frame: str = RESET, **kwargs: Any) -> str:
    return sign_frame(frame, signer, ocpp="2.0.1", station=STATION, timestamp=NOW, **kwargs)


def malleate(text: str, alg: str) -> str:
    """Replace the ECDSA value r‖s by r‖(n−s), which verifies too."""
    value = json.loads(text)
    sig = value[3]["customData"]["signatures"][0]
    raw = b64url_decode(sig["value"])
    half = len(raw) // 2
    s = int.from_bytes(raw[half:], "big")
    sig["value"] = b64url_encode(raw[:half] + (ORDERS[alg] - s).to_bytes(half, "big"))
    return json.dumps(value)


# --------------------------------------------------------------------------- through the verifier


def test_second_delivery_is_replayed(ring: Keyring, signers: dict[str, KeySigner]) -> None:
    cache = MemoryReplayCache()
    text = sign(signers["Ed25519"])
    assert verify(ring, cache, text) == [Outcome.VALID]
    verifier = Verifier(ring, max_signature_age=MAX_AGE, clock_skew=SKEW, replay_cache=cache)
    again = verifier.verify_frame(
        text, ocpp="2.0.1", station=STATION, now=NOW + timedelta(seconds=1)
    )
    sig = again.verification.signatures[0]
    assert sig.outcome is Outcome.REPLAYED
    assert "already seen" in sig.reason
    assert again.verification.valid_signers == ()


def test_replay_with_a_renumbered_message_id_is_replayed(
    ring: Keyring, signers: dict[str, KeySigner]
) -> None:
    cache = MemoryReplayCache()
    text = sign(signers["Ed25519"])
    assert verify(ring, cache, text) == [Outcome.VALID]
    assert verify(ring, cache, text.replace('"42"', '"43"')) == [Outcome.REPLAYED]


def test_replay_with_a_new_parallel_signature_added(
    ring: Keyring, signers: dict[str, KeySigner]
) -> None:
    cache = MemoryReplayCache()
    text = sign(signers["Ed25519"])
    assert verify(ring, cache, text) == [Outcome.VALID]
    assert verify(ring, cache, sign(signers["ES256"], text)) == [Outcome.REPLAYED, Outcome.VALID]


def test_the_same_payload_signed_again_is_not_a_replay(
    ring: Keyring, signers: dict[str, KeySigner]
) -> None:
    """A fresh nonce makes a new signing input."""
    cache = MemoryReplayCache()
    assert verify(ring, cache, sign(signers["Ed25519"])) == [Outcome.VALID]
    assert verify(ring, cache, sign(signers["Ed25519"])) == [Outcome.VALID]


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_ecdsa_malleated_value_verifies_but_is_caught_as_a_replay(
    ring: Keyring, signers: dict[str, KeySigner], alg: str
) -> None:
    text = sign(signers[alg])
    twin = malleate(text, alg)
    assert twin != text
    assert verify(ring, None, twin) == [Outcome.VALID]  # (r, n−s) is a valid ECDSA signature
    cache = MemoryReplayCache()
    assert verify(ring, cache, text) == [Outcome.VALID]
    assert verify(ring, cache, twin) == [Outcome.REPLAYED]


def test_replay_caught_by_sqlite_cache_after_a_restart(
    ring: Keyring, signers: dict[str, KeySigner], tmp_path: Path
) -> None:
    path = tmp_path / "replay.sqlite"
    text = sign(signers["ES256"])
    first = SQLiteReplayCache(path)
    assert verify(ring, first, text) == [Outcome.VALID]
    first.close()
    restarted = SQLiteReplayCache(path)
    try:
        assert verify(ring, restarted, text) == [Outcome.REPLAYED]
        assert verify(ring, restarted, malleate(text, "ES256")) == [Outcome.REPLAYED]
    finally:
        restarted.close()


def test_sqlite_cache_is_shared_by_two_open_connections(
    ring: Keyring, signers: dict[str, KeySigner], tmp_path: Path
) -> None:
    path = tmp_path / "replay.sqlite"
    a, b = SQLiteReplayCache(path), SQLiteReplayCache(path)
    try:
        text = sign(signers["Ed25519"])
        assert verify(ring, a, text) == [Outcome.VALID]
        assert verify(ring, b, text) == [Outcome.REPLAYED]
    finally:
        a.close()
        b.close()


def test_an_expired_signature_is_expired_not_replayed(
    ring: Keyring, signers: dict[str, KeySigner]
) -> None:
    cache = MemoryReplayCache()
    text = sign(signers["Ed25519"])
    assert verify(ring, cache, text) == [Outcome.VALID]
    late = NOW + MAX_AGE + SKEW + timedelta(milliseconds=1)
    assert verify(ring, cache, text, now=late) == [Outcome.EXPIRED]


def test_replayed_at_the_last_fresh_moment(ring: Keyring, signers: dict[str, KeySigner]) -> None:
    cache = MemoryReplayCache()
    text = sign(signers["Ed25519"])
    assert verify(ring, cache, text) == [Outcome.VALID]
    assert verify(ring, cache, text, now=NOW + MAX_AGE + SKEW) == [Outcome.REPLAYED]


def test_only_trusted_valid_signatures_enter_the_cache(
    ring: Keyring, signers: dict[str, KeySigner]
) -> None:
    cache = MemoryReplayCache()
    unknown = sign(signers["Ed25519"])
    assert verify(Keyring(), cache, unknown) == [Outcome.UNKNOWN_KEY]
    invalid = sign(signers["Ed25519"]).replace('"Immediate"', '"OnIdle"')
    assert verify(ring, cache, invalid) == [Outcome.INVALID]
    assert len(cache) == 0
    assert verify(ring, cache, unknown) == [Outcome.VALID]


def test_cache_entries_are_per_key(ring: Keyring, signers: dict[str, KeySigner]) -> None:
    cache = MemoryReplayCache()
    text = sign([signers["Ed25519"], signers["ES256"]])
    assert verify(ring, cache, text) == [Outcome.VALID, Outcome.VALID]
    assert len(cache) == 2


# --------------------------------------------------------------------------- the caches themselves

DIGEST = hashlib.sha256(b"signing input").digest()


def make_cache(tmp_path: Path, kind: str) -> ReplayCache:
    return MemoryReplayCache() if kind == "memory" else SQLiteReplayCache(tmp_path / "c.sqlite")


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_cache_remembers_until_expiry(tmp_path: Path, kind: str) -> None:
    cache = make_cache(tmp_path, kind)
    expires = NOW + timedelta(minutes=5)
    assert cache.check_and_add("k", DIGEST, expires, NOW) is False
    assert cache.check_and_add("k", DIGEST, expires, NOW + timedelta(minutes=1)) is True
    assert cache.check_and_add("k", DIGEST, expires, expires) is True
    assert cache.check_and_add("other-key", DIGEST, expires, NOW) is False
    assert cache.check_and_add("k", hashlib.sha256(b"x").digest(), expires, NOW) is False


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_cache_forgets_after_expiry(tmp_path: Path, kind: str) -> None:
    cache = make_cache(tmp_path, kind)
    expires = NOW + timedelta(minutes=5)
    assert cache.check_and_add("k", DIGEST, expires, NOW) is False
    after = expires + timedelta(seconds=1)
    assert cache.check_and_add("k", DIGEST, after + timedelta(minutes=5), after) is False
    assert cache.check_and_add("k", DIGEST, after + timedelta(minutes=5), after) is True


def test_memory_cache_drops_expired_entries() -> None:
    cache = MemoryReplayCache()
    for i in range(10):
        cache.check_and_add("k", bytes([i]) * 32, NOW + timedelta(seconds=i), NOW)
    cache.check_and_add(
        "k", b"\xff" * 32, NOW + timedelta(hours=1), NOW + timedelta(seconds=5, milliseconds=1)
    )
    assert len(cache) == 5


def test_sqlite_cache_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    first = SQLiteReplayCache(path)
    first.check_and_add("k", DIGEST, NOW + timedelta(minutes=5), NOW)
    first.close()
    second = SQLiteReplayCache(path)
    try:
        assert second.check_and_add("k", DIGEST, NOW + timedelta(minutes=5), NOW) is True
    finally:
        second.close()
