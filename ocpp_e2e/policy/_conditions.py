"""``where`` conditions of SPEC §7, compiled once at load time.

A path (``a.b[0].c[*].d``) becomes a tuple of steps; a condition becomes a test function over one
present value, and a ``check`` compiled for its path shape (the fast path decisions call, see
"compiled checks" below). :meth:`Condition.failure` walks the payload again, slowly, to say which
element failed and why (only for explanations). Payloads are JSON values as the verifier reads
them: dicts, lists, strings, ints, floats (JSON carries no NaN or infinity), booleans and None.

Value semantics (SPEC §7): JSON types never mix (``true`` is not ``1``, and Python's ``bool`` is an
``int`` subclass, so every check here tests the exact type); numbers compare by value as decimals of
their shortest round-trip form, never as binary floats.
"""

from __future__ import annotations

import json
import math
import operator
import re
import sys
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
Test = Callable[[Any], bool]
Interval = tuple[int, int]


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
            if m.group(2) != "*" and len(m.group(2)) > 16:
                # No JSON array (frames are at most 1 MiB) has that many elements; int() of
                # thousands of digits would be refused by Python itself.
                raise ValueError(f"index [{m.group(2)[:20]}…] is beyond any array")
            steps.append(STAR if m.group(2) == "*" else int(m.group(2)))
    return tuple(steps)


def json_type(value: Any) -> str:
    """The JSON type name of a Python value read from JSON."""
    t = type(value)
    if t is bool:
        return "boolean"
    if t is int or t is float or t is Decimal:
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


def number_value(value: int | float | Decimal) -> int | Decimal:
    """The exact value SPEC §7 compares: ints as they are, floats as their shortest decimal,
    Decimals (exact literals of frames without signatures, SPEC §2) as they are."""
    t = type(value)
    if t is int or t is Decimal:
        return value  # type: ignore[return-value]
    return Decimal(repr(value))


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
    if type(value) is Decimal:  # an exact literal of a frame without signatures (SPEC §2)
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
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


# ----------------------------------------------------------------------------- value tests
#
# Numbers compare by the exact value of their shortest decimal (SPEC §7). Python compares an int
# with an int or a float exactly, by binary value, and that gives the same answer as comparing the
# shortest decimals when both numbers are floats, or when the int lies within ±2**53: rounding a
# decimal to the nearest float is monotonic, every float is what its shortest decimal rounds to,
# and every int within ±2**53 is a float, so two such numbers and their decimals are ordered alike
# (and an integral float within ±2**53 prints as that integer). Only an int beyond ±2**53 meeting a
# float (or a NaN, which JSON cannot carry) goes through Decimal.

_EXACT_INT = 2**53
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _number_test(op: str, want: int | float) -> Callable[[Any], bool]:
    """``x op want`` for a JSON number ``x`` by exact decimal value; False for other types."""
    cmp = _COMPARE[op]
    exact = number_value(want)
    want_float = type(want) is float
    floats_in_binary = want_float or -_EXACT_INT <= want <= _EXACT_INT

    def test(x: Any) -> bool:
        t = type(x)
        if t is int:
            if not want_float or -_EXACT_INT <= x <= _EXACT_INT:
                return cmp(x, want)
            return cmp(x, exact)
        if t is float:
            if floats_in_binary and x == x:  # x == x: not NaN
                return cmp(x, want)
            return cmp(Decimal(repr(x)), exact)
        if t is Decimal:  # an exact literal of a frame without signatures (SPEC §2)
            return cmp(x, exact)
        return False

    return test


def _string_test(op: str, want: str) -> Callable[[Any], bool]:
    """``x op want`` for a JSON string ``x`` by code points; False for other types."""
    cmp = _COMPARE[op]
    return lambda x: type(x) is str and cmp(x, want)


def _eq_test(want: Any) -> Callable[[Any], bool]:
    t = type(want)
    if t is int or t is float:
        return _number_test("eq", want)
    if t is str:
        return _string_test("eq", want)
    if want is None or t is bool:
        return lambda x: x is want
    return lambda x: json_equal(x, want)


def _in_test(values: list[Any]) -> Callable[[Any], bool]:
    """Membership by JSON equality: strings and exact numbers by hash, the rest one by one."""
    strings = frozenset(v for v in values if type(v) is str)
    # ints and Decimals that are equal hash alike, so 3 finds 3.0 (stored as Decimal("3.0")).
    numbers = frozenset(number_value(v) for v in values if type(v) is int or type(v) is float)
    constants = [v for v in values if v is None or type(v) is bool]
    composites = [v for v in values if type(v) is list or type(v) is dict]

    def test(x: Any) -> bool:
        t = type(x)
        if t is str:
            return x in strings
        if t is int:
            return x in numbers
        if t is float:
            return Decimal(repr(x)) in numbers
        if t is Decimal:
            return x in numbers
        if x is None or t is bool:
            return any(x is v for v in constants)
        return any(json_equal(x, v) for v in composites)

    return test


def make_test(op: str, value: Any) -> Callable[[Any], bool]:
    """The test of ``op`` on one present value; the caller validated ``value`` beforehand."""
    if op == "eq":
        return _eq_test(value)
    if op == "ne":
        equal = _eq_test(value)
        return lambda x: not equal(x)
    if op == "in":
        return _in_test(value)
    if op == "notIn":
        inside = _in_test(value)
        return lambda x: not inside(x)
    if op in ORDERING:
        if type(value) is str:
            return _string_test(op, value)
        return _number_test(op, value)
    if op == "matches":
        pattern = compile_iregexp(value)
        return lambda x: type(x) is str and pattern.fullmatch(x) is not None
    if op == "present":
        return lambda x: True
    raise ValueError(f"no test for op {op!r}")


_NO_NUMBERS = (1, 0)  # an empty interval


def number_interval(op: str, value: Any) -> Interval:
    """``(low, high)``: every int or float ``x`` with ``low <= x <= high`` passes the test of
    ``op value``. The loops below try this inline before calling the test, which still decides
    every other value. The interval is the exact set of ints that pass, cut to ±2**53 where binary
    and decimal order agree (see above): a float above an int ``low`` of that range has a shortest
    decimal of at least ``low``.

    >>> number_interval("gt", 4200), number_interval("lte", 6.5), number_interval("eq", 7.0)
    ((4201, 9007199254740992), (-9007199254740992, 6), (7, 7))
    """
    if type(value) not in (int, float) or op not in _COMPARE:
        return _NO_NUMBERS
    bound = number_value(value)
    if op == "eq":
        low = high = int(bound)
        if low != bound:
            return _NO_NUMBERS
    elif op in ("gt", "gte"):
        low, high = math.floor(bound) + 1 if op == "gt" else math.ceil(bound), _EXACT_INT
    else:
        low, high = -_EXACT_INT, math.ceil(bound) - 1 if op == "lt" else math.floor(bound)
    return max(low, -_EXACT_INT), min(high, _EXACT_INT)


# ----------------------------------------------------------------------------- compiled checks
#
# A check answers ``holds`` for one condition: ``check(payload, memo) -> bool``; the shape of the
# path picks the loop. ``memo`` (one dict per payload) keeps the values each ``[*]`` prefix leads
# to, which several conditions share (the periods of a charging schedule); a check reads it as
# ``memo.get(key) or prefix.values(payload, memo)`` (a resolved list is never empty). Loops over
# the values try the number interval inline first (most limits pass it), then the condition's test.

Memo = dict[str, Any]
Check = Callable[[Any, Memo], bool]


class _Prefix:
    """A path ending with ``[*]`` (a condition's path up to its last ``[*]``), resolved at most
    once per payload; a prefix with several ``[*]`` builds on the one up to its previous ``[*]``.
    """

    __slots__ = ("_head", "_names_key", "_parent", "key")

    def __init__(self, steps: tuple[Step, ...]) -> None:
        # Interned: every condition on the same prefix finds its memo entries by identity.
        self.key = sys.intern(render_path(steps))
        self._names_key = sys.intern(self.key + " names")
        stars = [i for i, s in enumerate(steps) if s is STAR]
        self._parent = _Prefix(steps[: stars[-2] + 1]) if len(stars) > 1 else None
        self._head = steps[stars[-2] + 1 : -1] if len(stars) > 1 else steps[:-1]

    def values(self, payload: Any, memo: Memo) -> list[Any]:
        """The values, in document order; MISSING stands for each dead end or empty list (as in
        :func:`_values`), so the list is never empty. Read-only: it may be the payload's list."""
        out = memo.get(self.key)
        if out is None:
            if self._parent is None:
                node = _single(payload, self._head)
                out = node if type(node) is list and node else [MISSING]
            else:
                out = []
                for parent in self._parent.values(payload, memo):
                    node = _single(parent, self._head)
                    if type(node) is list and node:
                        out.extend(node)
                    else:
                        out.append(MISSING)
            memo[self.key] = out
        return out

    def names(self, payload: Any, memo: Memo) -> set[Any] | None:
        """A superset of the member names of the objects among the values (iterating a value
        yields its names, or for a string or array its characters or items), so a name that is
        not in it is in no object; None when some value cannot be iterated that way (a number,
        MISSING, an array holding an array or object)."""
        if self._names_key in memo:
            known: set[Any] | None = memo[self._names_key]
            return known
        try:
            names: set[Any] | None = set().union(*self.values(payload, memo))  # one C-level pass
        except TypeError:
            names = None
        memo[self._names_key] = names
        return names


def _compile_single(steps: tuple[Step, ...], test: Test | None, numbers: Interval) -> Check:
    """A path without ``[*]``: one value or MISSING."""
    if test is None:  # absent
        return lambda payload, memo: _single(payload, steps) is MISSING
    low, high = numbers
    if not all(type(s) is str for s in steps):

        def check(payload: Any, memo: Memo) -> bool:
            x = _single(payload, steps)
            if (type(x) is int or type(x) is float) and low <= x <= high:
                return True
            return x is not MISSING and test(x)

        return check

    def check_members(payload: Any, memo: Memo) -> bool:
        # Member names only (the usual case): _single without its call and index branch.
        x = payload
        for name in steps:
            if type(x) is not dict:
                return False
            x = x.get(name, MISSING)
        if (type(x) is int or type(x) is float) and low <= x <= high:
            return True
        return x is not MISSING and test(x)

    return check_members


def _compile_member(
    prefix: _Prefix, key: str, test: Test | None, numbers: Interval, every: bool
) -> Check:
    """``<prefix>[*].key``: one loop over the prefix's values, without building a value list."""
    values_key = prefix.key
    low, high = numbers
    if every and test is None:

        def every_absent(payload: Any, memo: Memo) -> bool:
            names = prefix.names(payload, memo)
            if names is not None and key not in names:
                return True
            for n in memo.get(values_key) or prefix.values(payload, memo):
                if type(n) is dict and key in n:
                    return False
            return True

        return every_absent
    if every and test is not None:

        def every_holds(payload: Any, memo: Memo) -> bool:
            for n in memo.get(values_key) or prefix.values(payload, memo):
                if type(n) is not dict:
                    return False
                x = n.get(key, MISSING)
                if (type(x) is int or type(x) is float) and low <= x <= high:
                    continue
                if x is MISSING or not test(x):
                    return False
            return True

        return every_holds
    if test is None:

        def some_absent(payload: Any, memo: Memo) -> bool:
            for n in memo.get(values_key) or prefix.values(payload, memo):
                if type(n) is not dict or key not in n:
                    return True
            return False

        return some_absent

    def some_holds(payload: Any, memo: Memo) -> bool:
        names = prefix.names(payload, memo)
        if names is not None and key not in names:
            return False  # no value has the member (e.g. a forbidden mode that is not there)
        for n in memo.get(values_key) or prefix.values(payload, memo):
            if type(n) is dict and key in n:
                x = n[key]
                if (type(x) is int or type(x) is float) and low <= x <= high:
                    return True
                if test(x):
                    return True
        return False

    return some_holds


def _compile_values(
    prefix: _Prefix, suffix: tuple[Step, ...], test: Test | None, every: bool
) -> Check:
    """``<prefix>[*]<suffix>`` for any other suffix: resolve it into a value list, then test."""

    def check(payload: Any, memo: Memo) -> bool:
        values = _values(prefix.values(payload, memo), suffix)
        if test is None:  # absent
            if every:
                return all(x is MISSING for x in values)
            return any(x is MISSING for x in values)
        if every:
            for x in values:  # noqa: SIM110
                if x is MISSING or not test(x):
                    return False
            return True
        for x in values:  # noqa: SIM110
            if x is not MISSING and test(x):
                return True
        return False

    return check


def _compile_star(
    steps: tuple[Step, ...], test: Test | None, numbers: Interval, every: bool
) -> Check:
    """A path with ``[*]``: the values up to the last ``[*]`` (shared through the memo), then the
    part after it on each."""
    last_star = max(i for i, s in enumerate(steps) if s is STAR)
    prefix, suffix = _Prefix(steps[: last_star + 1]), steps[last_star + 1 :]
    if len(suffix) == 1 and type(suffix[0]) is str:
        return _compile_member(prefix, suffix[0], test, numbers, every)
    return _compile_values(prefix, suffix, test, every)


class Condition:
    """A compiled ``where`` condition: path, op, value and quantifier.

    ``check(payload, memo)`` is :meth:`holds` compiled for this path shape and operator; decisions
    call it directly with one ``memo`` dict per payload.

    >>> c = Condition.compile({"path": "a[*].b", "op": "gte", "value": 4200}, forbid=False)
    >>> c.holds({"a": [{"b": 4200}, {"b": 4200.0}]}), c.holds({"a": [{"b": 3700}]})
    (True, False)
    """

    __slots__ = (
        "_quantifier_set",
        "_single_path",
        "_test",
        "check",
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
        self._test = None if op == "absent" else make_test(op, value)
        numbers = number_interval(op, value)
        self.check: Check
        if self._single_path:
            self.check = _compile_single(self.steps, self._test, numbers)
        else:
            every = self.quantifier == "all"
            self.check = _compile_star(self.steps, self._test, numbers, every)

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

    def holds(self, payload: Any, memo: Memo | None = None) -> bool:
        """Whether the condition holds on a signing payload (SPEC §7 semantics).

        ``memo`` (one per payload) shares resolved ``[*]`` prefixes between conditions.
        """
        return self.check(payload, {} if memo is None else memo)

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
