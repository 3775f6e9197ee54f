"""The compiled fast path of ``where`` conditions decides exactly as SPEC §7 reads.

The reference below is SPEC §7 written as plainly as possible (every value found, JSON types
compared by name, every number turned into the Decimal of its shortest form); the compiled checks
(int shortcuts, binary number comparisons, shared ``[*]`` prefixes, member-name sets) must agree
with it on every payload, alone and when conditions share one memo as in a decision.
"""

from __future__ import annotations

import operator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_policy_support import NOW, forbid, frame_ctx, make_policy, permit, verification

from ocpp_e2e.policy import Effect, evaluate
from ocpp_e2e.policy._conditions import Condition
from ocpp_e2e.policy._regexp import compile_iregexp

# ----------------------------------------------------------------------------- the reference

GONE = object()  # a dead end or an empty list under [*]
ORDER = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def json_type(v: Any) -> str:
    if type(v) is bool:
        return "boolean"
    if type(v) in (int, float):
        return "number"
    if v is None:
        return "null"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names[type(v)]


def decimal(v: int | float) -> Decimal:
    return Decimal(v) if type(v) is int else Decimal(repr(v))


def same(a: Any, b: Any) -> bool:
    if json_type(a) != json_type(b):
        return False
    if json_type(a) == "number":
        return decimal(a) == decimal(b)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def passes(op: str, want: Any, x: Any) -> bool:
    if op == "eq":
        return same(x, want)
    if op == "ne":
        return not same(x, want)
    if op == "in":
        return any(same(x, w) for w in want)
    if op == "notIn":
        return not any(same(x, w) for w in want)
    if op in ORDER:
        if json_type(want) == "number":
            return json_type(x) == "number" and ORDER[op](decimal(x), decimal(want))
        return type(x) is str and ORDER[op](x, want)
    if op == "matches":
        return type(x) is str and compile_iregexp(want).fullmatch(x) is not None
    assert op == "present"
    return True


def found(node: Any, steps: list[str | int]) -> list[Any]:
    """Every value the path leads to, depth first (document order)."""
    if not steps:
        return [node]
    step, rest = steps[0], steps[1:]
    if step == "*":
        if type(node) is not list or not node:
            return [GONE]
        return [v for item in node for v in found(item, rest)]
    if type(step) is int:
        return found(node[step], rest) if type(node) is list and step < len(node) else [GONE]
    return found(node[step], rest) if type(node) is dict and step in node else [GONE]


def reference(cond: dict[str, Any], payload: Any, *, forbid: bool) -> bool:
    steps: list[str | int] = cond["steps"]
    op: str = cond["op"]
    want = cond.get("value")

    def one(x: Any) -> bool:
        if x is GONE:
            return op == "absent"
        return op != "absent" and passes(op, want, x)

    values = found(payload, steps)
    if "*" not in steps:
        return one(values[0])
    quantifier = cond.get("quantifier") or ("any" if forbid else "all")
    return all(map(one, values)) if quantifier == "all" else any(map(one, values))


# ----------------------------------------------------------------------------- generated cases

NAMES = ("a", "b", "x")
EDGE_NUMBERS = [
    0, -0.0, 1, 1.0, 0.1, 0.3, 0.1 + 0.2, 6.5, 4199, 4199.9, 4200, 4200.0, 4200.5, 4201,
    2**53 - 1, 2**53, 2**53 + 1, -(2**53) - 1, float(2**53), 2**60, 2**60 + 1, float(2**60),
    10**16, 1e16, 1e300, -1e300, 5e-324, 2**64, 2**64 + 1, -(2**64) - 1, 10**30,
]  # fmt: skip
numbers = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.one_of(
    numbers, st.booleans(), st.none(), st.sampled_from(["", "a", "b", "x", "W", "ab", "é"])
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)
    ),
    max_leaves=10,
)
SHAPES: list[list[str | int]] = [
    ["a", "m"],
    ["a", "b", "m"],
    ["a", 1, "m"],
    ["a", "*"],
    ["a", "*", "m"],
    ["a", "*", "b", "m"],
    ["a", "*", 0],
    ["a", "*", "b", "*"],
    ["a", "*", "b", "*", "m"],
    ["a", "*", "*", "m"],
]
free_steps = st.lists(
    st.one_of(st.sampled_from(NAMES), st.just("*"), st.integers(0, 1)), max_size=4
).map(lambda rest: ["a", *rest])
# Charging-schedule-like shapes (a member under one or two [*]) most of the time.
steps = st.one_of(
    st.sampled_from(SHAPES).flatmap(
        lambda shape: st.sampled_from(NAMES).map(lambda m: [m if s == "m" else s for s in shape])
    ),
    free_steps,
)


def near(value: Any) -> list[Any]:
    """Numbers on and around a condition's bound, where a shortcut would go wrong first."""
    if type(value) not in (int, float) or value != value or abs(value) > 1e300:
        return [0]
    whole = int(value)
    return [value, whole - 1, whole, whole + 1, float(whole), value - 0.5, value + 0.5]


@st.composite
def payload_for(draw: st.DrawFn, path: list[str | int], bound: Any = None) -> Any:
    """A payload shaped like ``path`` — lists under [*], the member in each object — with other
    members beside it, and now and then a wrong shape, a missing member or an empty list; its
    leaves are often numbers near ``bound``."""
    leaves = st.one_of(st.sampled_from(near(bound)), numbers, scalars, values)

    def build(rest: list[str | int]) -> Any:
        if not rest:
            return draw(leaves)
        roll = draw(st.integers(0, 19))
        if roll == 0:
            return draw(values)  # not the shape the path expects
        step = rest[0]
        if step == "*" or type(step) is int:
            return [build(rest[1:]) for _ in range(draw(st.integers(0, 4)))]
        node = {k: draw(values) for k in draw(st.sets(st.sampled_from(NAMES), max_size=2))}
        if roll != 1:  # else the member may be missing
            node[str(step)] = build(rest[1:])
        return node

    return build(path)


def render(path: list[str | int]) -> str:
    out = ""
    for s in path:
        out += "[*]" if s == "*" else f"[{s}]" if type(s) is int else (f".{s}" if out else str(s))
    return out


def _value(op: str) -> st.SearchStrategy[Any]:
    if op in ("in", "notIn"):
        return st.lists(values, min_size=1, max_size=4)
    if op in ORDER:
        return st.one_of(numbers, st.sampled_from(["", "a", "b", "W"]))
    if op == "matches":
        return st.sampled_from(["a.*", "[0-9]+", "W", ".?"])
    return values


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(["eq", "ne", "in", "notIn", *ORDER, "matches", "present", "absent"]))
    path = draw(steps)
    cond: dict[str, Any] = {"path": render(path), "op": op, "steps": path}
    if op not in ("present", "absent"):
        cond["value"] = draw(_value(op))
    if "*" in path:  # (SPEC §7: a quantifier only with [*])
        quantifier = draw(st.sampled_from([None, "all", "any"]))
        if quantifier is not None:
            cond["quantifier"] = quantifier
    return cond


def compiled(cond: dict[str, Any], *, forbid: bool) -> Condition:
    return Condition.compile({k: v for k, v in cond.items() if k != "steps"}, forbid=forbid)


FAST = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def cases(draw: st.DrawFn, count: int = 1) -> tuple[list[dict[str, Any]], Any]:
    """Conditions and a payload shaped like the first one's path (the others share its names)."""
    conds = [draw(conditions()) for _ in range(count)]
    return conds, draw(payload_for(conds[0]["steps"], conds[0].get("value")))


@FAST
@given(cases(), st.booleans())
def test_compiled_condition_decides_as_the_reference(
    case: tuple[list[dict[str, Any]], Any], forbid: bool
) -> None:
    (cond,), payload = case
    assert compiled(cond, forbid=forbid).holds(payload) == reference(cond, payload, forbid=forbid)


@FAST
@given(st.integers(2, 6).flatmap(lambda n: cases(n)))
def test_conditions_sharing_one_memo_decide_as_the_reference(
    case: tuple[list[dict[str, Any]], Any],
) -> None:
    conds, payload = case
    memo: dict[str, Any] = {}
    for cond in conds:
        got = compiled(cond, forbid=False).check(payload, memo)
        assert got == reference(cond, payload, forbid=False), cond


@FAST
@given(cases(), st.booleans())
def test_explanation_exists_exactly_when_the_condition_fails(
    case: tuple[list[dict[str, Any]], Any], forbid: bool
) -> None:
    (cond,), payload = case
    c = compiled(cond, forbid=forbid)
    assert (c.failure(payload) is None) == c.holds(payload)


def _rule_conditions(conds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "steps"} for c in conds]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.lists(conditions(), max_size=3), min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=4, max_size=4),
    st.data(),
)
def test_decision_is_the_first_rule_the_reference_applies(
    wheres: list[list[dict[str, Any]]], forbids: list[bool], data: st.DataObject
) -> None:
    paths = [c["steps"] for where in wheres for c in where] or [["a"]]
    payload = data.draw(payload_for(max(paths, key=len)))
    rules = []
    for i, where in enumerate(wheres):
        make = forbid if forbids[i] else permit
        rules.append(make(f"r{i}", ["SetChargingProfile"], where=_rule_conditions(where)))
    decision = evaluate(
        make_policy(rules), verification(frame_ctx("SetChargingProfile"), payload), now=NOW
    )

    def applies(i: int) -> bool:
        return all(reference(c, payload, forbid=forbids[i]) for c in wheres[i])

    deny = next((f"r{i}" for i in range(len(wheres)) if forbids[i] and applies(i)), None)
    allow = next((f"r{i}" for i in range(len(wheres)) if not forbids[i] and applies(i)), None)
    expected = (Effect.DENY, deny) if deny else (Effect.PERMIT, allow) if allow else None
    if expected is None:
        assert (decision.effect, decision.rule) == (Effect.DENY, None)
    else:
        assert (decision.effect, decision.rule) == expected
    assert [r.applies for r in decision.rules] == [applies(i) for i in range(len(wheres))]


# ----------------------------------------------------------------------------- the edges, by name


def holds(path: str, op: str, value: Any, payload: Any, **kw: Any) -> bool:
    data = {"path": path, "op": op, "value": value, **kw}
    return Condition.compile(data, forbid=False).holds(payload)


@pytest.mark.parametrize(
    ("op", "bound", "x", "expected"),
    [
        # A float beyond 2**53 is its shortest decimal, not its binary value.
        ("eq", 2**60, float(2**60), False),  # 1.152921504606847e18 is not 2**60
        ("gte", 2**60, float(2**60), True),  # 1152921504606847000 > 2**60
        ("lte", 2**60, float(2**60), False),
        ("eq", 1152921504606847000, float(2**60), True),
        ("gt", 2**60 + 1, float(2**60), True),  # 1152921504606847000 > 2**60 + 1
        ("lte", float(2**60), 2**60, True),  # 2**60 < 1152921504606847000
        ("gte", float(2**60), 2**60, False),
        # Within ±2**53 binary and decimal order agree, both ways round.
        ("eq", 2**53, float(2**53), True),
        ("gt", 2**53 + 1, float(2**53), False),
        ("lt", 4200, 4199.9, True),
        ("gte", 4200, 4200.0, True),
        ("gt", 6.5, 7, True),
        ("lte", 6.5, 6, True),
        ("lt", 6.5, 7, False),
        ("eq", 0.3, 0.1 + 0.2, False),
        ("gt", 0.3, 0.1 + 0.2, True),  # 0.30000000000000004
        ("eq", 1e16, 10**16, True),
        ("eq", -0.0, 0, True),
        # Numbers beyond the ±2**53 shortcut are decided by the test.
        ("gte", 4200, 2**64 + 1, True),
        ("lte", 4200, -(2**64) - 1, True),
        ("gt", 4200, 10**30, True),
        ("gte", 4200, 1e300, True),
        # 2**60 + 256 is a float that prints as 1152921504606847200: below this bound.
        ("gte", 1152921504606847222, float(2**60 + 256), False),
        ("lt", 1152921504606847222, float(2**60 + 256), True),
    ],
)
def test_numbers_compare_by_shortest_decimal(op: str, bound: Any, x: Any, expected: bool) -> None:
    assert holds("a", op, bound, {"a": x}) is expected
    assert holds("a[*]", op, bound, {"a": [x]}) is expected
    assert holds("a[*].b", op, bound, {"a": [{"b": x}]}) is expected


@pytest.mark.parametrize("op", ["eq", "ne", "gt", "gte", "lt", "lte"])
@pytest.mark.parametrize("bound", [4200, 4200.0, 6.5, -3, -2.5, 0, 2**53, 2**64, 10**20 + 0.5])
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_ints_around_the_bound_decide_as_the_reference(op: str, bound: Any, offset: int) -> None:
    for x in (int(bound) + offset, int(bound) + offset + (1 if bound > 0 else -1) * 0.5):
        cond = {"path": "a[*].b", "op": op, "value": bound, "steps": ["a", "*", "b"]}
        for payload in ({"a": [{"b": x}]}, {"a": [{"b": x}, {"b": x}]}):
            for as_forbid in (False, True):
                got = compiled(cond, forbid=as_forbid).holds(payload)
                assert got == reference(cond, payload, forbid=as_forbid), (x, payload)
        single = {"path": "a.b", "op": op, "value": bound, "steps": ["a", "b"]}
        assert compiled(single, forbid=False).holds({"a": {"b": x}}) == reference(
            single, {"a": {"b": x}}, forbid=False
        )


@pytest.mark.parametrize(("op", "bound"), [("gte", 0), ("lte", 1), ("eq", 1)])
def test_booleans_are_not_numbers_on_the_int_shortcut(op: str, bound: int) -> None:
    assert not holds("a[*].b", op, bound, {"a": [{"b": True}]})
    assert not holds("a.b", op, bound, {"a": {"b": False}})


def test_a_string_element_holding_the_member_name_is_not_an_object() -> None:
    # The member-name set of [{"b": 1}, "x"] holds "x" (the string's character): the loop decides.
    assert holds("a[*].x", "present", None, {"a": [{"b": 1}, "x"]}, quantifier="any") is False
    absent = {"path": "a[*].x", "op": "absent"}
    assert Condition.compile(absent, forbid=False).holds({"a": [{"b": 1}, "x"]})
    assert not Condition.compile(absent, forbid=False).holds({"a": [{"b": 1}, {"x": 2}]})


def test_an_empty_list_fails_every_and_holds_for_absent() -> None:
    assert not holds("a[*].b", "gte", 0, {"a": []})
    assert Condition.compile({"path": "a[*].b", "op": "absent"}, forbid=False).holds({"a": []})


def test_a_missing_prefix_fails_some_and_holds_for_absent() -> None:
    assert not holds("a[*].b", "eq", 1, {}, quantifier="any")
    assert Condition.compile({"path": "a[*].b", "op": "absent"}, forbid=True).holds({})


def test_nested_stars_share_their_parent_prefix_in_one_memo() -> None:
    payload = {"a": [{"b": [{"c": 1}, {"c": 2}], "w": "W"}, {"b": [{"c": 3}]}]}
    unit = Condition.compile({"path": "a[*].w", "op": "eq", "value": "W"}, forbid=False)
    limit = Condition.compile({"path": "a[*].b[*].c", "op": "gte", "value": 1}, forbid=False)
    memo: dict[str, Any] = {}
    assert limit.check(payload, memo) is True
    assert unit.check(payload, memo) is False  # the second schedule has no unit
    assert set(memo) >= {"a[*]", "a[*].b[*]"}
