"""The front door: ``import ocpp_e2e`` gives the core names, a version, and nothing that does not
import; the subpackages are the front modules of their areas."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

import ocpp_e2e

ROOT = Path(__file__).resolve().parent.parent
FRONT_MODULES = ["audit", "integrations", "meter", "tariffs", "tickets", "pki", "policy"]


def test_the_version_is_the_one_pyproject_declares() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert ocpp_e2e.__version__ == project["version"]


def test_every_name_of_the_front_door_exists() -> None:
    missing = [n for n in ocpp_e2e.__all__ if not hasattr(ocpp_e2e, n)]
    assert missing == []
    assert len(set(ocpp_e2e.__all__)) == len(ocpp_e2e.__all__)


def test_the_core_verbs_are_at_the_front_door() -> None:
    for name in ("sign_frame", "sign_object", "Verifier", "Keyring", "load_signer", "Outcome",
                 "dumps", "loads", "OcppE2EError", "ALGORITHMS", "VERSIONS"):  # fmt: skip
        assert name in ocpp_e2e.__all__, name


@pytest.mark.parametrize("name", FRONT_MODULES)
def test_each_area_has_a_front_module_with_all(name: str) -> None:
    module = importlib.import_module(f"ocpp_e2e.{name}")
    exported = getattr(module, "__all__", None)
    assert exported, f"ocpp_e2e.{name} has no __all__"
    assert [n for n in exported if not hasattr(module, n)] == []
