"""``where`` conditions of SPEC §7, compiled once at load time.

A path (``a.b[0].c[*].d``) becomes a tuple of steps; a condition becomes a test function over one
present value. :meth:`Condition.holds` is the fast path used for decisions;
:meth:`Condition.failure` walks the payload again, slowly, to say which element failed and why
(only for explanations).

Value semantics (SPEC §7): JSON types never mix (``true`` is not ``1``, and Python's ``bool`` is an
``int`` subclass, so every check here tests the exact type); numbers compare by value as decimals of
their shortest round-trip form, never as binary floats.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ._regexp import compile_iregexp

_PATH = re.compile(r"[^.\[\]]+(\[(\*|0|[1-9][0-9]*)\])*(\.[^.\[\]]+(\[(\*|0|[1-9][0-9]*)\])*)*")
_STEP = re.compile(r"([^.\[\]]+)|\[(\*|[0-9]+)\]|\.")


class _Star:
    def __repr__(self) -> str:
        return "[*]"


STAR = _Star()
Step = str | int | _Star


class _Missing:
    def __repr__(self) -> str:
        return "missing"


MISSING = _Missing()

OPS = ("eq", "ne", "in", "notIn", "gt", "gte", "lt", "lte", "matches", "present", "absent")
ORDERING = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
# When an ordering op fails, the relation that holds instead (for explanations).
_FAILED_RELATION = {"gt": "≤", "gte": "<", "lt": "≥", "lte": ">"}


def parse_path(text: str) -> tuple[Step, ...]:
    """Split a SPEC §7 path into member names, indexes and ``[*]``; ValueError when malformed."""
    if _PATH.fullmatch(text) is None:
        raise ValueError(
            "a path is member names joined by '.', each optionally followed by [n] or [*]"
        )
    steps: list[Step] = []
    for m in _STEP.finditer(text):
        if m.group(1) is not None:
            steps.append(m.group(1))
        elif m.group(2) is not None:
            steps.append(STAR if m.group(2) == "*" else int(m.group(2)))
    return tuple(steps)


def json_type(value: Any) -> str:
    """The JSON type name of a Python value read from JSON."""
    t = type(value)
    if t is bool:
        return "boolean"
    if t is int or t is float:
        return "number"
    if t is str:
        return "string"
    if t is list:
        return "array"
    if t is dict:
        return "object"
    if value is None:
        return "null"
    return t.__name__


def number_value(value: int | float) -> int | Decimal:
    """The exact value SPEC §7 compares: ints as they are, floats as their shortest decimal."""
    return value if type(value) is int else Decimal(repr(value))


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: same JSON type and same value, numbers by decimal value."""
    ta, tb = json_type(a), json_type(b)
    if ta != tb:
        return False
    if ta == "number":
        return number_value(a) == number_value(b)
    if ta == "array":
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if ta == "object":
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def show(value: Any) -> str:
    """A short JSON rendering of a value for explanations."""
    if value is MISSING:
        return "missing"
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= 80 else text[:77] + "..."


def render_path(steps: tuple[Step, ...]) -> str:
    out = ""
    for step in steps:
        if isinstance(step, str):
            out += f".{step}" if out else step
        elif isinstance(step, _Star):
            out += "[*]"
        else:
            out += f"[{step}]"
    return out


@dataclass(frozen=True)
class Branch:
    """One concrete place a path leads to: its steps and the value there (or MISSING)."""

    steps: tuple[Step, ...]
    value: Any
    empty_list: bool = False

    @property
    def path(self) -> str:
        return render_path(self.steps)


def _walk(node: Any, steps: tuple[Step, ...], i: int, done: tuple[Step, ...]) -> Iterator[Branch]:
    """Every concrete place of a path, in document order (slow path, keeps concrete indexes)."""
    while i < len(steps):
        step = steps[i]
        if isinstance(step, _Star):
            if type(node) is not list:
                yield Branch(done, MISSING)
                return
            if not node:
                yield Branch(done, MISSING, empty_list=True)
                return
            for n, item in enumerate(node):
                yield from _walk(item, steps, i + 1, (*done, n))
            return
        if isinstance(step, int):
            if type(node) is not list or step >= len(node):
                yield Branch((*done, step), MISSING)
                return
            node = node[step]
        else:
            if type(node) is not dict or step not in node:
                yield Branch((*done, step), MISSING)
                return
            node = node[step]
        done = (*done, step)
        i += 1
    yield Branch(done, node)


def _values(nodes: list[Any], steps: tuple[Step, ...]) -> list[Any]:
    """The values a path leads to from ``nodes``, in document order (fast path, breadth-first);
    MISSING stands for a dead end or an empty list, so the result is never empty."""
    for step in steps:
        if step is STAR:
            nxt: list[Any] = []
            for n in nodes:
                if type(n) is list and n:
                    nxt.extend(n)
                else:
                    nxt.append(MISSING)
            nodes = nxt
        elif type(step) is str:
            nodes = [n.get(step, MISSING) if type(n) is dict else MISSING for n in nodes]
        else:
            nodes = [
                n[step] if type(n) is list and step < len(n) else MISSING  # type: ignore[operator,index]
                for n in nodes
            ]
    return nodes


def _single(node: Any, steps: tuple[Step, ...]) -> Any:
    """The value of a path without ``[*]``, or MISSING (fastest path)."""
    for step in steps:
        if type(step) is str:
            if type(node) is not dict:
                return MISSING
            node = node.get(step, MISSING)
            if node is MISSING:
                return MISSING
        else:
            if type(node) is not list or step >= len(node):  # type: ignore[operator]
                return MISSING
            node = node[step]  # type: ignore[index]
    return node


def _ordering_test(op: str, want: Any) -> Callable[[Any], bool]:
    want_type = json_type(want)
    if want_type == "number":
        bound = number_value(want)
        if isinstance(bound, int) or bound == bound.to_integral_value():
            # An integral bound compares exactly with ints as ints; floats still go through Decimal.
            whole = int(bound)
            return _int_ordering(op, whole, bound)
        if op == "gt":
            return lambda x: (type(x) is int or type(x) is float) and number_value(x) > bound
        if op == "gte":
            return lambda x: (type(x) is int or type(x) is float) and number_value(x) >= bound
        if op == "lt":
            return lambda x: (type(x) is int or type(x) is float) and number_value(x) < bound
        return lambda x: (type(x) is int or type(x) is float) and number_value(x) <= bound
    if op == "gt":
        return lambda x: type(x) is str and x > want
    if op == "gte":
        return lambda x: type(x) is str and x >= want
    if op == "lt":
        return lambda x: type(x) is str and x < want
    return lambda x: type(x) is str and x <= want


def _int_ordering(op: str, whole: int, bound: int | Decimal) -> Callable[[Any], bool]:
    if op == "gt":
        return lambda x: (
            (x > whole) if type(x) is int else type(x) is float and Decimal(repr(x)) > bound
        )
    if op == "gte":
        return lambda x: (
            (x >= whole) if type(x) is int else type(x) is float and Decimal(repr(x)) >= bound
        )
    if op == "lt":
        return lambda x: (
            (x < whole) if type(x) is int else type(x) is float and Decimal(repr(x)) < bound
        )
    return lambda x: (
        (x <= whole) if type(x) is int else type(x) is float and Decimal(repr(x)) <= bound
    )


def _scalar_key(value: Any) -> Any:
    """A hashable key equal for equal JSON scalars (type-tagged, numbers as exact values)."""
    t = json_type(value)
    if t == "number":
        return ("number", number_value(value))
    if t in ("array", "object"):
        return None
    return (t, value)


def _in_test(values: list[Any]) -> Callable[[Any], bool]:
    keys = {_scalar_key(v) for v in values if _scalar_key(v) is not None}
    composite = [v for v in values if _scalar_key(v) is None]

    def test(x: Any) -> bool:
        key = _scalar_key(x)
        if key is not None:
            return key in keys
        return any(json_equal(x, v) for v in composite)

    return test


def make_test(op: str, value: Any) -> Callable[[Any], bool]:
    """The test of ``op`` on one present value; the caller validated ``value`` beforehand."""
    if op == "eq":
        return lambda x: json_equal(x, value)
    if op == "ne":
        return lambda x: not json_equal(x, value)
    if op == "in":
        return _in_test(value)
    if op == "notIn":
        inside = _in_test(value)
        return lambda x: not inside(x)
    if op in ORDERING:
        return _ordering_test(op, value)
    if op == "matches":
        pattern = compile_iregexp(value)
        return lambda x: type(x) is str and pattern.fullmatch(x) is not None
    if op == "present":
        return lambda x: True
    raise ValueError(f"no test for op {op!r}")


class Condition:
    """A compiled ``where`` condition: path, op, value and quantifier.

    >>> c = Condition.compile({"path": "a[*].b", "op": "gte", "value": 4200}, forbid=False)
    >>> c.holds({"a": [{"b": 4200}, {"b": 4200.0}]}), c.holds({"a": [{"b": 3700}]})
    (True, False)
    """

    __slots__ = (
        "_prefix",
        "_quantifier_set",
        "_single_path",
        "_suffix",
        "_test",
        "op",
        "path",
        "quantifier",
        "steps",
        "value",
    )

    def __init__(
        self, path: str, op: str, value: Any, quantifier: str | None, *, forbid: bool
    ) -> None:
        self.path = path
        self.op = op
        self.value = value
        self._quantifier_set = quantifier
        self.quantifier = quantifier or ("any" if forbid else "all")
        self.steps = parse_path(path)
        self._single_path = not any(s is STAR for s in self.steps)
        last_star = max((i for i, s in enumerate(self.steps) if s is STAR), default=-1)
        # The part up to the last [*] is often shared by several conditions (the periods of a
        # charging schedule); evaluate() resolves it once per object through a memo.
        self._prefix = self.steps[: last_star + 1]
        self._suffix = self.steps[last_star + 1 :]
        self._test = None if op == "absent" else make_test(op, value)

    @classmethod
    def compile(cls, data: dict[str, Any], *, forbid: bool) -> Condition:
        """Compile a validated condition object; ``forbid`` sets the default quantifier."""
        return cls(
            data["path"], data["op"], data.get("value"), data.get("quantifier"), forbid=forbid
        )

    def to_dict(self) -> dict[str, Any]:
        """The condition as written in the policy."""
        out: dict[str, Any] = {"path": self.path, "op": self.op}
        if self.op not in ("present", "absent"):
            out["value"] = self.value
        if self._quantifier_set is not None:
            out["quantifier"] = self._quantifier_set
        return out

    def _test_one(self, x: Any) -> bool:
        if x is MISSING:
            return self.op == "absent"
        if self._test is None:  # absent, and the value is there
            return False
        return self._test(x)

    def holds(self, payload: Any, memo: dict[tuple[Step, ...], list[Any]] | None = None) -> bool:
        """Whether the condition holds on a signing payload (SPEC §7 semantics).

        ``memo`` (one per payload) shares resolved ``[*]`` prefixes between conditions.
        """
        if self._single_path:
            return self._test_one(_single(payload, self.steps))
        if memo is None:
            base = _values([payload], self._prefix)
        else:
            base = memo.get(self._prefix)  # type: ignore[assignment]
            if base is None:
                base = memo[self._prefix] = _values([payload], self._prefix)
        suffix = self._suffix
        if len(suffix) == 1 and type(suffix[0]) is str:
            return self._holds_member(base, suffix[0])
        values = _values(base, suffix)
        test = self._test
        if test is None:  # absent
            if self.quantifier == "all":
                return all(x is MISSING for x in values)
            return any(x is MISSING for x in values)
        # Plain loops: measurably faster than all()/any() over a generator on long schedules.
        if self.quantifier == "all":
            for x in values:  # noqa: SIM110
                if x is MISSING or not test(x):
                    return False
            return True
        for x in values:  # noqa: SIM110
            if x is not MISSING and test(x):
                return True
        return False

    def _holds_member(self, base: list[Any], key: str) -> bool:
        """``holds`` for the common ``...[*].member`` shape, without building a value list."""
        test = self._test
        if self.quantifier == "all":
            if test is None:
                for n in base:  # noqa: SIM110
                    if type(n) is dict and key in n:
                        return False
                return True
            for n in base:
                if type(n) is not dict:
                    return False
                x = n.get(key, MISSING)
                if x is MISSING or not test(x):
                    return False
            return True
        if test is None:
            for n in base:  # noqa: SIM110
                if type(n) is not dict or key not in n:
                    return True
            return False
        for n in base:
            if type(n) is dict:
                x = n.get(key, MISSING)
                if x is not MISSING and test(x):
                    return True
        return False

    def describe(self) -> str:
        """The condition in words, e.g. ``limit ≥ 4200 (every element)``."""
        rel = {
            "eq": "=",
            "ne": "≠",
            "in": "in",
            "notIn": "not in",
            "matches": "matches",
            **ORDERING,
        }
        if self.op == "present":
            text = f"{self.path} present"
        elif self.op == "absent":
            text = f"{self.path} absent"
        else:
            text = f"{self.path} {rel[self.op]} {show(self.value)}"
        if not self._single_path:
            text += " (some element)" if self.quantifier == "any" else " (every element)"
        return text

    def failure(self, payload: Any) -> str | None:
        """Why the condition does not hold, in words a person can act on; None when it holds."""
        if self.holds(payload):
            return None
        branches = list(_walk(payload, self.steps, 0, ()))
        if self.quantifier == "any" and not self._single_path:
            first = next(b for b in branches if not self._test_one(b.value))
            return (
                f"no element satisfies {self.describe()}; first: {self._explain(first, brief=True)}"
            )
        first = next(b for b in branches if not self._test_one(b.value))
        return self._explain(first)

    def _explain(self, branch: Branch, *, brief: bool = False) -> str:
        x = branch.value
        at = branch.path
        name = next((s for s in reversed(self.steps) if isinstance(s, str)), self.path)
        needed = "" if brief else f" (needed for {self.describe()})"
        if branch.empty_list:
            return f"{at} is an empty list{needed}"
        if x is MISSING:
            return f"{at} is missing{needed}"
        if self.op == "absent":
            return f"{name} is present ({show(x)}) at {at}; the rule requires it absent"
        if self.op in ORDERING:
            want_type = json_type(self.value)
            if json_type(x) != want_type:
                return (
                    f"{name} is {show(x)} (a {json_type(x)}), not comparable with "
                    f"{show(self.value)} (a {want_type}) at {at}"
                )
            return f"{name} {show(x)} {_FAILED_RELATION[self.op]} {show(self.value)} at {at}"
        if self.op == "eq":
            if json_type(x) != json_type(self.value):
                return (
                    f"{name} is {show(x)} (a {json_type(x)}), not {show(self.value)} "
                    f"(a {json_type(self.value)}) at {at}"
                )
            return f"{name} is {show(x)}, not {show(self.value)} at {at}"
        if self.op == "ne":
            return f"{name} is {show(x)}, which the rule excludes, at {at}"
        if self.op == "in":
            return f"{name} {show(x)} is not one of {show(self.value)} at {at}"
        if self.op == "notIn":
            return f"{name} {show(x)} is one of the excluded values {show(self.value)} at {at}"
        if self.op == "matches":
            if type(x) is not str:
                return f"{name} is {show(x)} (a {json_type(x)}), not a string to match at {at}"
            return f"{name} {show(x)} does not match {show(self.value)} at {at}"
        return f"{name} fails {self.describe()} at {at}"
