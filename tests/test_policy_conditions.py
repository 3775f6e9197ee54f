"""``where`` conditions (SPEC §7): every operator, JSON type strictness, exact decimals, paths."""

from __future__ import annotations

from typing import Any

import pytest

from ocpp_e2e.policy._conditions import Condition


def holds(path: str, op: str, value: Any, payload: Any, *, forbid: bool = False, **kw: Any) -> bool:
    data = {"path": path, "op": op, **kw}
    if op not in ("present", "absent"):
        data["value"] = value
    return Condition.compile(data, forbid=forbid).holds(payload)


def failure(path: str, op: str, value: Any, payload: Any, **kw: Any) -> str | None:
    data = {"path": path, "op": op, **kw}
    if op not in ("present", "absent"):
        data["value"] = value
    return Condition.compile(data, forbid=kw.pop("forbid", False)).failure(payload)


# -- eq / ne


def test_eq_holds_for_equal_strings() -> None:
    assert holds("a", "eq", "x", {"a": "x"})


def test_eq_fails_for_different_strings() -> None:
    assert not holds("a", "eq", "x", {"a": "y"})


def test_eq_true_is_not_one() -> None:
    assert not holds("a", "eq", 1, {"a": True})
    assert not holds("a", "eq", True, {"a": 1})


def test_eq_false_is_not_zero_and_null_is_not_false() -> None:
    assert not holds("a", "eq", 0, {"a": False})
    assert not holds("a", "eq", False, {"a": None})


def test_eq_number_is_not_its_string() -> None:
    assert not holds("a", "eq", 4200, {"a": "4200"})


def test_eq_compares_numbers_by_decimal_value() -> None:
    assert holds("a", "eq", 4200, {"a": 4200.0})
    assert holds("a", "eq", 0.3, {"a": 0.3})


def test_eq_does_not_see_binary_float_sums_as_decimals() -> None:
    assert not holds("a", "eq", 0.3, {"a": 0.1 + 0.2})  # 0.30000000000000004


def test_eq_compares_objects_and_arrays_deeply_with_types() -> None:
    assert holds("a", "eq", {"x": [1, "b"]}, {"a": {"x": [1.0, "b"]}})
    assert not holds("a", "eq", {"x": [1]}, {"a": {"x": [True]}})


def test_ne_holds_for_other_types() -> None:
    assert holds("a", "ne", 1, {"a": True})


def test_ne_fails_for_equal_values() -> None:
    assert not holds("a", "ne", "x", {"a": "x"})


# -- in / notIn


def test_in_holds_for_a_listed_value() -> None:
    assert holds("a", "in", ["TxProfile", "TxDefaultProfile"], {"a": "TxProfile"})


def test_in_does_not_match_one_against_true() -> None:
    assert not holds("a", "in", [1, 2], {"a": True})


def test_in_matches_numbers_by_value() -> None:
    assert holds("a", "in", [3], {"a": 3.0})


def test_in_matches_objects() -> None:
    assert holds("a", "in", [{"k": 1}], {"a": {"k": 1}})


def test_notin_holds_for_an_unlisted_value() -> None:
    assert holds("a", "notIn", ["ChargingOnly"], {"a": "CentralSetpoint"})


def test_notin_fails_for_a_listed_value() -> None:
    assert not holds("a", "notIn", ["ChargingOnly"], {"a": "ChargingOnly"})


def test_notin_fails_on_a_missing_path() -> None:
    assert not holds("a", "notIn", ["ChargingOnly"], {})


# -- ordering


@pytest.mark.parametrize(
    ("op", "x", "expected"),
    [
        ("gt", 4201, True),
        ("gt", 4200, False),
        ("gte", 4200, True),
        ("gte", 4199.9, False),
        ("lt", 4199, True),
        ("lt", 4200, False),
        ("lte", 4200.0, True),
        ("lte", 4200.1, False),
    ],
)
def test_ordering_ops_compare_numbers(op: str, x: Any, expected: bool) -> None:
    assert holds("a", op, 4200, {"a": x}) is expected


def test_ordering_uses_exact_decimals_of_the_shortest_form() -> None:
    # 6.1 as a binary double is 6.0999999999999996447...; as SPEC §7 decimals 6.1 >= 6.1.
    assert holds("a", "gte", 6.1, {"a": 6.1})
    assert not holds("a", "gt", 6.1, {"a": 6.1})


def test_ordering_compares_strings_by_code_point() -> None:
    assert holds("a", "gte", "2027-01-01", {"a": "2027-03-01"})
    assert not holds("a", "lt", "B", {"a": "a"})


def test_ordering_fails_for_a_string_against_a_number() -> None:
    assert not holds("a", "gte", 4200, {"a": "5000"})


def test_ordering_fails_for_true_against_a_number() -> None:
    assert not holds("a", "gte", 0, {"a": True})


def test_ordering_fails_for_null_and_objects() -> None:
    assert not holds("a", "lt", 10, {"a": None})
    assert not holds("a", "lt", 10, {"a": {"v": 1}})


# -- matches, present, absent


def test_matches_is_a_full_match() -> None:
    assert holds("a", "matches", "cs-[0-9]{4}", {"a": "cs-0001"})
    assert not holds("a", "matches", "cs-[0-9]{4}", {"a": "cs-00012"})
    assert not holds("a", "matches", "cs", {"a": "xcsx"})


def test_matches_fails_for_non_strings() -> None:
    assert not holds("a", "matches", "[0-9]+", {"a": 12})


def test_present_holds_for_null_values() -> None:
    assert holds("a", "present", None, {"a": None})


def test_present_fails_on_missing_path() -> None:
    assert not holds("a.b", "present", None, {"a": {}})


def test_absent_holds_on_missing_path() -> None:
    assert holds("a.b", "absent", None, {"a": {}})


def test_absent_fails_when_present() -> None:
    assert not holds("a", "absent", None, {"a": 0})


# -- paths


def test_missing_path_fails_every_op_but_absent() -> None:
    for op, value in [
        ("eq", 1),
        ("ne", 1),
        ("in", [1]),
        ("notIn", [1]),
        ("gt", 1),
        ("lte", 1),
        ("matches", "x"),
        ("present", None),
    ]:
        assert not holds("x.y", op, value, {"x": {}}), op
    assert holds("x.y", "absent", None, {"x": {}})


def test_index_path_reads_one_element() -> None:
    assert holds("a[1].b", "eq", 2, {"a": [{"b": 1}, {"b": 2}]})


def test_index_out_of_range_is_missing() -> None:
    assert not holds("a[2].b", "present", None, {"a": [{"b": 1}]})
    assert holds("a[2].b", "absent", None, {"a": [{"b": 1}]})


def test_index_on_an_object_is_missing() -> None:
    assert not holds("a[0]", "present", None, {"a": {"0": 1}})


def test_star_all_holds_when_every_nested_element_holds() -> None:
    payload = {"s": [{"p": [{"l": 5000}, {"l": 4200}]}, {"p": [{"l": 11000}]}]}
    assert holds("s[*].p[*].l", "gte", 4200, payload)


def test_star_all_fails_when_one_nested_element_fails() -> None:
    payload = {"s": [{"p": [{"l": 5000}]}, {"p": [{"l": 11000}, {"l": 3700}]}]}
    assert not holds("s[*].p[*].l", "gte", 4200, payload)


def test_star_over_an_empty_list_fails() -> None:
    assert not holds("s[*].l", "gte", 0, {"s": []})


def test_star_over_an_empty_nested_list_fails_even_beside_good_ones() -> None:
    assert not holds("s[*].p[*].l", "gte", 0, {"s": [{"p": [{"l": 1}]}, {"p": []}]})


def test_star_over_an_empty_list_holds_for_absent() -> None:
    assert holds("s[*].l", "absent", None, {"s": []})


def test_star_element_missing_the_member_fails_all() -> None:
    assert not holds("s[*].l", "gte", 0, {"s": [{"l": 1}, {}]})


def test_star_on_a_non_list_is_missing() -> None:
    assert not holds("s[*]", "present", None, {"s": {"a": 1}})


def test_quantifier_any_holds_when_one_element_holds() -> None:
    assert holds("s[*].l", "lt", 4200, {"s": [{"l": 5000}, {"l": 3700}]}, quantifier="any")


def test_quantifier_any_fails_when_no_element_holds() -> None:
    assert not holds("s[*].l", "lt", 4200, {"s": [{"l": 5000}]}, quantifier="any")


def test_forbid_conditions_default_to_any() -> None:
    payload = {"s": [{"m": "ChargingOnly"}, {"m": "CentralSetpoint"}]}
    assert holds("s[*].m", "notIn", ["ChargingOnly"], payload, forbid=True)
    assert not holds("s[*].m", "notIn", ["ChargingOnly"], payload, forbid=False)


def test_quantifier_all_in_a_forbid_rule() -> None:
    payload = {"s": [{"m": "ChargingOnly"}, {"m": "CentralSetpoint"}]}
    assert not holds("s[*].m", "notIn", ["ChargingOnly"], payload, forbid=True, quantifier="all")


def test_payload_that_is_not_an_object_is_missing_everything() -> None:
    assert not holds("a", "present", None, ["a"])


# -- explanations


def test_failure_names_the_element_and_the_values() -> None:
    payload = {"cp": {"s": [{"p": [{"limit": 11000}, {"limit": 7400}, {"limit": 3700}]}]}}
    assert (
        failure("cp.s[*].p[*].limit", "gte", 4200, payload)
        == "limit 3700 < 4200 at cp.s[0].p[2].limit"
    )


def test_failure_says_when_types_differ() -> None:
    assert failure("a", "gte", 4200, {"a": "5000"}) == (
        'a is "5000" (a string), not comparable with 4200 (a number) at a'
    )


def test_failure_for_eq_with_true_against_one() -> None:
    assert failure("a", "eq", 1, {"a": True}) == "a is true (a boolean), not 1 (a number) at a"


def test_failure_names_the_missing_place() -> None:
    assert (
        failure("cp.s[0].limit", "gte", 1, {"cp": {}})
        == "cp.s is missing (needed for cp.s[0].limit ≥ 1)"
    )


def test_failure_names_an_empty_list() -> None:
    assert (
        failure("s[*].l", "gte", 0, {"s": []})
        == "s is an empty list (needed for s[*].l ≥ 0 (every element))"
    )


def test_failure_of_absent_shows_the_value() -> None:
    assert failure("p[*].setpoint", "absent", None, {"p": [{}, {"setpoint": 10}]}) == (
        "setpoint is present (10) at p[1].setpoint; the rule requires it absent"
    )


def test_failure_is_none_when_the_condition_holds() -> None:
    assert failure("a", "eq", 1, {"a": 1}) is None
