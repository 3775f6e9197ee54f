"""Shared, generic fixtures: paths to shared test vectors and the example keys, fresh keys."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest
from hypothesis import settings

from ocpp_e2e.keys import ALGORITHMS, KeySigner, generate_private_key

# CI must not go red by chance: the same examples on every run, no per-example time limit on a
# shared machine. Locally hypothesis keeps exploring new examples.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """In CI a skipped test is a failure: CI installs everything a test needs (chromium, openssl,
    shared/ beside the clone), so a skip there means a test that silently stopped testing."""
    report = yield
    if report.skipped and os.environ.get("CI") == "true" and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test: {report.longrepr}"
    return report
