"""The public API surface: every public module says what it exports, and says it exactly.

A public module is one whose dotted name has no part starting with an underscore. Each defines
`__all__`; every name listed exists; every public top-level function and class defined in the
module is listed (a name meant for the package only starts with an underscore); no underscored
name is listed. These are the names users and the package's other modules import.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import pytest

import ocpp_e2e


def public_module_names() -> list[str]:
    names = ["ocpp_e2e"]
    for info in pkgutil.walk_packages(ocpp_e2e.__path__, prefix="ocpp_e2e."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return sorted(names)


def defined_public_names(source: str) -> set[str]:
    """Top-level functions and classes a module's source defines without a leading underscore."""
    tree = ast.parse(source)
    nodes: list[ast.stmt] = list(tree.body)
    for node in tree.body:  # definitions under `if TYPE_CHECKING:` / `if sys.version...:`
        if isinstance(node, ast.If | ast.Try):
            nodes.extend(node.body)
    return {
        node.name
        for node in nodes
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and not node.name.startswith("_")
    }


def surface_problems(module: types.ModuleType, source: str) -> list[str]:
    """What is wrong with a module's `__all__`, one line each (empty: nothing)."""
    exported = getattr(module, "__all__", None)
    if exported is None:
        return ["no __all__"]
    problems = []
    if len(set(exported)) != len(exported):
        problems.append("a name is listed twice in __all__")
    for name in exported:
        if not hasattr(module, name):
            problems.append(f"__all__ lists {name!r}, which the module does not define")
        if name.startswith("_") and name != "__version__":
            problems.append(f"__all__ lists the internal name {name!r}")
    for name in sorted(defined_public_names(source) - set(exported)):
        problems.append(f"public {name!r} is not in __all__ (list it, or name it _{name})")
    return problems


MODULES = public_module_names()


def test_the_walk_finds_every_public_module() -> None:
    # The walk reaches subpackages and leaves: a broken walk would make the test below vacuous.
    assert len(MODULES) > 90
    for name in ("ocpp_e2e", "ocpp_e2e.sign", "ocpp_e2e.audit.run", "ocpp_e2e.cli.core"):
        assert name in MODULES
    assert not [name for name in MODULES if "._" in name]


@pytest.mark.parametrize("name", MODULES)
def test_every_public_module_lists_exactly_its_public_names(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    source = Path(module.__file__).read_text(encoding="utf-8")
    assert surface_problems(module, source) == []


def probe(source: str, exported: list[str] | None) -> list[str]:
    module = types.ModuleType("probe")
    exec(compile(source, "probe.py", "exec"), module.__dict__)
    if exported is not None:
        module.__all__ = exported  # type: ignore[attr-defined]
    return surface_problems(module, source)


def test_a_module_without_all_is_reported() -> None:
    assert probe("def f(): pass\n", None) == ["no __all__"]


def test_a_public_function_missing_from_all_is_reported() -> None:
    source = "def listed(): pass\ndef forgotten(): pass\nclass Shown: pass\n"
    assert probe(source, ["Shown", "listed"]) == [
        "public 'forgotten' is not in __all__ (list it, or name it _forgotten)"
    ]


def test_a_listed_name_that_does_not_exist_is_reported() -> None:
    assert probe("def f(): pass\n", ["f", "gone"]) == [
        "__all__ lists 'gone', which the module does not define"
    ]


def test_an_underscored_name_in_all_is_reported() -> None:
    assert probe("def _inner(): pass\n", ["_inner"]) == [
        "__all__ lists the internal name '_inner'"
    ]


def test_an_underscored_function_need_not_be_listed() -> None:
    assert probe("def _inner(): pass\nX = 1\n", []) == []


#: Primitives that trust their caller (a value already judged safe to serialize fast, members
#: already canonical, a signature not checked against SPEC §1, an algorithm already matched to
#: the key): the package uses them behind its safe entry points; users get the safe ones.
INTERNAL_PRIMITIVES = {
    "ocpp_e2e.canonical": ("dumps_parsed", "dumps"),
    "ocpp_e2e.sign": ("signing_input", "sign_object"),
    "ocpp_e2e.keys": ("verify_raw", "Keyring"),
    "ocpp_e2e.esp.frames": ("hpke_info", "decrypt_frame"),
    "ocpp_e2e.esp.structures": ("structure_info", "open_structure"),
    "ocpp_e2e.meter.verify": ("verify_signature", "MeterVerifier"),
    "ocpp_e2e.tariffs.signing": ("judge", "verify_tariff"),
    "ocpp_e2e.audit.logs": ("object_members", "read_logs"),
}


@pytest.mark.parametrize("name", sorted(INTERNAL_PRIMITIVES))
def test_a_primitive_that_trusts_its_caller_is_internal(name: str) -> None:
    primitive, safe = INTERNAL_PRIMITIVES[name]
    module = importlib.import_module(name)
    assert not hasattr(module, primitive)
    assert callable(getattr(module, f"_{primitive}"))
    assert safe in module.__all__


def test_no_front_module_offers_an_internal_primitive() -> None:
    primitives = {primitive for primitive, _safe in INTERNAL_PRIMITIVES.values()}
    fronts = [name for name in MODULES if importlib.import_module(name).__file__.endswith("__init__.py")]  # type: ignore[union-attr]
    assert "ocpp_e2e.meter" in fronts and "ocpp_e2e.esp" in fronts
    for name in fronts:
        exported = set(importlib.import_module(name).__all__)
        assert not exported & primitives, name
        assert not exported & {f"_{p}" for p in primitives}, name
