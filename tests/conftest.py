"""Shared, generic fixtures: paths to shared test vectors and the example keys, fresh keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpp_e2e.keys import ALGORITHMS, KeySigner, generate_private_key

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
KEYS_EXAMPLE = REPO / "keys-example"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``shared/`` folder beside the repository (SPEC, test vectors)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is missing (clone the repository next to shared/)")
    return SHARED


@pytest.fixture(scope="session")
def keys_example() -> Path:
    """The repository's demo key folder."""
    return KEYS_EXAMPLE


@pytest.fixture(scope="session")
def signers() -> dict[str, KeySigner]:
    """One freshly generated signer per SPEC algorithm (session-wide: key generation is slow)."""
    return {alg: KeySigner(generate_private_key(alg)) for alg in ALGORITHMS}
