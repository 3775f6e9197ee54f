"""The layer table of docs/architecture.md is the law of imports: a module imports only from its
own row or the rows below it (lazy imports inside functions count too), and every module of the
package has a row. The table is read from the page, so the page and the code cannot drift."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ocpp_e2e"
_ENTRY = re.compile(r"(?<![\w/])([a-z_][a-z0-9_]*(?:/|\.py))(?=\s|$)")


def layer_table() -> list[list[str]]:
    """The rows of the ```text block of docs/architecture.md, top first: each a list of entries
    (``cli/``, ``sign.py``); continuation lines (an empty first column) hold no entries."""
    text = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    block = text.split("```text\n", 1)[1].split("```", 1)[0]
    rows = []
    for line in block.splitlines():
        first_column = line[:29]
        names = _ENTRY.findall(first_column)
        if names:
            rows.append(names)
    return rows


def _entry_of(module: str) -> str:
    """``ocpp_e2e.policy.model`` -> ``policy/``; ``ocpp_e2e.keys`` -> ``keys.py``."""
    parts = module.split(".")[1:]
    if not parts:
        return "__init__.py"
    if (PACKAGE / parts[0]).is_dir():
        return parts[0] + "/"
    return parts[0] + ".py"


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    """Every ``ocpp_e2e`` module that ``path`` (the source of ``module``) imports, anywhere in
    the file, with its line."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("ocpp_e2e")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [f"{target}.{a.name}" for a in node.names] if not node.module else []
                found += [(node.lineno, t) for t in names or [target]]
            elif node.module and node.module.startswith("ocpp_e2e"):
                found.append((node.lineno, node.module))
    return found


def test_the_layer_table_names_every_module_of_the_package_once() -> None:
    entries = [e for row in layer_table() for e in row]
    assert len(entries) == len(set(entries)), entries
    present = {
        p.name + ("/" if p.is_dir() else "")
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py")
    } - {"__init__.py"}
    assert sorted(present - set(entries)) == [], "modules missing from docs/architecture.md"
    assert sorted(set(entries) - present) == [], "rows naming no module"


def _upward(path: Path, module: str) -> list[str]:
    rank = {e: i for i, row in enumerate(layer_table()) for e in row}  # 0 is the top row
    own = _entry_of(module)
    return [
        f"{path.name}:{line} ({own}) imports {target} ({_entry_of(target)})"
        for line, target in _imports(path, module)
        if rank.get(_entry_of(target), len(rank)) < rank[own]
    ]


def test_no_module_imports_from_a_layer_above_it() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue  # the front door re-exports names from every layer
        upward += _upward(path, _module(path))
    assert upward == []


def test_an_upward_import_is_seen_even_inside_a_function(tmp_path: Path) -> None:
    # The test above cannot pass by seeing nothing.
    probe = tmp_path / "keys.py"
    probe.write_text("from .canonical import loads\n\ndef f():\n    from .cli import app\n")
    assert _upward(probe, "ocpp_e2e.keys") == ["keys.py:4 (keys.py) imports ocpp_e2e.cli (cli/)"]
