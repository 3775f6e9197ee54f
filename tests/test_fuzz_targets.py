"""The fuzz targets of fuzz/ run over their seed corpora without atheris, so they cannot rot:
every seed gets a verdict or the project's own error (the targets let nothing else through)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz import targets


def test_every_entry_point_has_a_fuzz_target() -> None:
    assert sorted(targets.TARGETS) == sorted(
        [
            "audit",
            "canonical",
            "esp",
            "frame",
            "keys",
            "ocmf",
            "pki",
            "policy-json",
            "policy-upgrade",
            "policy-yaml",
            "structure",
            "tariff",
            "ticket",
        ]
    )


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_fuzz_target_runs_over_its_seed_corpus(name: str) -> None:
    seeds = targets.seeds(name)
    assert seeds, f"target {name} has no seeds"
    for seed in seeds:
        targets.TARGETS[name](seed)
