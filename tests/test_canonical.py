"""SPEC §2: the strict I-JSON reader (every refusal, with its path and reason) and the RFC 8785
writer, including property tests against the ``rfc8785`` and ``jcs`` packages and agreement of the
three readers (fast, middle, precise)."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any, Literal

import jcs
import orjson
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpp_e2e.canonical import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    Parsed,
    _dumps_parsed,
    _fast,
    _middle,
    _Reader,
    dumps,
    json_path,
    loads,
    parse,
)
from ocpp_e2e.errors import IJSONError, InputError


def refused(data: bytes | str) -> IJSONError:
    """Parse ``data`` expecting a SPEC §2 refusal; return the error for its place and reason."""
    with pytest.raises(IJSONError) as info:
        parse(data)
    return info.value


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


# --------------------------------------------------------------------------- accepted input


def test_loads_returns_plain_python_values() -> None:
    assert loads(b'{"b": 1, "a": [true, null, "x", 2.5]}') == {"b": 1, "a": [True, None, "x", 2.5]}


def test_str_input_is_read_like_its_utf8_bytes() -> None:
    assert loads('{"é": "€"}') == loads('{"é": "€"}'.encode())


@pytest.mark.parametrize("literal", ["4200", "4200.0", "4.2e3", "42e2", "4.2E+3", "420000e-2"])
def test_numbers_with_the_exact_value_of_their_double_are_accepted(literal: str) -> None:
    assert loads(literal) == 4200
    assert dumps(loads(literal)) == b"4200"


def test_integer_literal_stays_an_int_and_decimal_literal_a_float() -> None:
    assert type(loads("4200")) is int
    assert type(loads("4200.0")) is float


@pytest.mark.parametrize("literal", [str(MAX_SAFE_INTEGER), str(-MAX_SAFE_INTEGER)])
def test_integers_at_the_safe_limit_are_accepted(literal: str) -> None:
    assert loads(literal) == int(literal)


def test_nesting_of_32_levels_is_accepted() -> None:
    assert parse(nested(MAX_DEPTH)).value is not None
    assert loads(nested(MAX_DEPTH, "")) == loads(nested(MAX_DEPTH - 1, "[]"))


def test_nesting_of_32_objects_is_accepted() -> None:
    text = '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH
    assert isinstance(loads(text), dict)


def test_input_of_exactly_one_mebibyte_is_accepted() -> None:
    text = b'"' + b"a" * (MAX_BYTES - 2) + b'"'
    assert len(text) == MAX_BYTES
    assert len(loads(text)) == MAX_BYTES - 2


def test_escaped_surrogate_pair_is_one_character() -> None:
    assert loads('"\\ud83d\\ude02"') == "\U0001f602"


def test_solidus_escape_and_short_escapes_are_decoded() -> None:
    assert loads('"\\/\\b\\f\\n\\r\\t\\"\\\\"') == '/\b\f\n\r\t"\\'


# --------------------------------------------------------------------------- refusals (SPEC §2)


def test_duplicate_member_at_top_level_is_refused_with_its_path() -> None:
    err = refused('{"a": 1, "a": 1}')
    assert err.where is not None and err.where.startswith("$ ")
    assert 'duplicate member name "a"' in err.reason


def test_duplicate_member_deep_inside_is_refused_with_its_path() -> None:
    err = refused('{"x": {"y": [0, {"k": true, "z": 1, "k": true}]}}')
    assert err.where is not None and err.where.startswith("$.x.y[1] ")
    assert 'duplicate member name "k"' in err.reason


def test_duplicate_member_spelled_with_an_escape_is_refused() -> None:
    err = refused('{"ab": 1, "a\\u0062": 2}')
    assert 'duplicate member name "ab"' in err.reason


def test_duplicate_member_with_a_colon_in_its_name_is_refused() -> None:
    assert "duplicate" in refused('{"a:b": "c:d", "a:b": "c:d"}').reason


def test_invalid_utf8_is_refused_with_the_byte_offset() -> None:
    err = refused(b'{"a": "\xff"}')
    assert "invalid UTF-8 at byte 7" in err.reason


def test_overlong_utf8_encoding_is_refused() -> None:
    assert "invalid UTF-8" in refused(b'"\xc0\xaf"').reason


def test_utf8_encoded_surrogate_is_refused() -> None:
    assert "invalid UTF-8" in refused(b'"\xed\xa0\x80"').reason


def test_byte_order_mark_is_refused() -> None:
    err = refused(b"\xef\xbb\xbf{}")
    assert "byte-order mark" in err.reason
    assert "byte-order mark" in refused("\ufeff{}").reason


@pytest.mark.parametrize(
    "escape", ["\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\udc00\\ud800", "\\ud800x"]
)
def test_escaped_lone_surrogate_is_refused(escape: str) -> None:
    err = refused('{"k": ["' + escape + '"]}')
    assert "lone surrogate" in err.reason
    assert err.where is not None and err.where.startswith("$.k[0] ")


def test_escaped_lone_surrogate_in_a_member_name_is_refused() -> None:
    assert "lone surrogate" in refused('{"\\ud800": 1}').reason


def test_raw_lone_surrogate_in_a_python_str_is_refused() -> None:
    err = refused('{"k": "\ud800"}')
    assert "lone surrogate" in err.reason
    assert err.where is not None and err.where.startswith("$.k ")


@pytest.mark.parametrize("word", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(word: str) -> None:
    err = refused('{"v": [' + word + "]}")
    assert f"{word} is not JSON" in err.reason
    assert err.where is not None and err.where.startswith("$.v[0] ")


@pytest.mark.parametrize(
    ("literal", "reason"),
    [
        ("4199.99999999999999999", "does not survive a double (it reads as 4200.0)"),
        ("1e-400", "does not survive a double (it reads as 0.0)"),
        ("1e400", "beyond the range of a double"),
        ("-1e400", "beyond the range of a double"),
        ("1E+400", "beyond the range of a double"),
        ("0.1000000000000000055511151231257827", "does not survive a double"),
        ("333333333.33333329", "does not survive a double"),
    ],
)
def test_numbers_that_do_not_survive_a_double_are_refused(literal: str, reason: str) -> None:
    err = refused('{"limit": ' + literal + "}")
    assert reason in err.reason
    assert err.where is not None and err.where.startswith("$.limit ")


@pytest.mark.parametrize(
    "literal", ["9007199254740992", "-9007199254740992", "123456789012345678901234567890"]
)
def test_integers_beyond_the_safe_range_are_refused(literal: str) -> None:
    err = refused("[" + literal + "]")
    assert "beyond ±(2^53−1)" in err.reason
    assert err.where is not None and err.where.startswith("$[0] ")


def test_a_huge_integer_literal_is_refused_as_beyond_the_safe_range() -> None:
    assert "beyond ±(2^53−1)" in refused("1" * 5000).reason


def test_nesting_of_33_levels_is_refused() -> None:
    err = refused(nested(MAX_DEPTH + 1))
    assert f"nesting deeper than {MAX_DEPTH}" in err.reason
    assert err.where is not None and err.where.startswith("$" + "[0]" * MAX_DEPTH + " ")


def test_nesting_of_33_objects_is_refused() -> None:
    text = '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1)
    assert "nesting deeper" in refused(text).reason


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200, 300, 600, 1100, 5000])
@pytest.mark.parametrize("prefix", ["", '"\\n", '])
def test_any_deep_nesting_is_refused_as_an_input_error(depth: int, prefix: str) -> None:
    assert "nesting deeper" in refused("[" + prefix + nested(depth) + "]").reason


def test_input_over_one_mebibyte_is_refused() -> None:
    text = b'"' + b"a" * (MAX_BYTES - 1) + b'"'
    err = refused(text)
    assert "exceeds the limit of 1048576 bytes" in err.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": [1, 2', "truncated JSON"),
        ('{"a": "xy', "truncated JSON"),
        ('[2, "1", "Heartbeat", {}', "truncated JSON"),
        ("", "truncated JSON"),
        ('{"a" 1}', "expected ':'"),
        ("[1,]", "unexpected character ']'"),
        ("{'a': 1}", "member name in double quotes"),
        ("[1] [2]", "unexpected data after the JSON value"),
        ("01", "unexpected data"),
        ('"\\x41"', "invalid escape"),
        ('"\\u12G4"', "invalid \\u escape"),
        ('"a\tb"', "control character U+0009"),
        ("hello", "unexpected character 'h'"),
        ("-", "invalid number"),
    ],
)
def test_text_that_is_not_json_is_refused_with_a_reason(text: str, reason: str) -> None:
    assert reason in refused(text).reason


def test_errors_give_line_and_column() -> None:
    err = refused('{\n  "a": 1,\n  "a": 2}')
    assert err.where is not None and "line 3" in err.where


def test_ijson_error_is_an_input_error() -> None:
    assert issubclass(IJSONError, InputError)


def test_parse_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        parse(123)  # type: ignore[arg-type]


def test_json_path_quotes_odd_member_names() -> None:
    assert json_path(("a", 0, "b c", "x")) == '$.a[0]["b c"].x'


# --------------------------------------------------------------------------- writer


def test_dumps_sorts_members_by_utf16_code_units() -> None:
    value = {"\U0001f602": 1, "\ufb33": 2, "a": 3}
    assert dumps(value) == rfc8785.dumps(value)
    assert dumps(value).index("\U0001f602".encode()) < dumps(value).index("\ufb33".encode())


def test_dumps_writes_integral_floats_as_integers() -> None:
    assert dumps([4200.0, -0.0, 1e21, 1e-7, 0.000001]) == b"[4200,0,1e+21,1e-7,0.000001]"


def test_dumps_refuses_values_that_are_not_json() -> None:
    for bad in (float("nan"), float("inf"), 2**60, {1: 2}, b"x"):
        with pytest.raises(IJSONError, match="cannot canonicalize"):
            dumps(bad)


def test_member_names_from_u_e000_and_outside_the_bmp_are_sorted_by_utf16_on_the_fast_path() -> (
    None
):
    parsed = parse('{"\\ufb33": 1, "\\ud83d\\ude02": 2, "a": {"\\uffff": [], "\\ud800\\udc00": 0}}')
    assert parsed.jcs_safe is True
    assert _fast(b'{"\\ufb33": 1, "\\ud83d\\ude02": 2}') is not None
    out = _dumps_parsed(parsed.value, parsed.jcs_safe)
    assert out == rfc8785.dumps(parsed.value)
    assert out.index("\U0001f602".encode()) < out.index("\ufb33".encode())


def test_only_one_kind_of_high_member_name_keeps_code_point_order() -> None:
    for value in ({"\ufb33": 1, "\uffff": 2, "a": 3}, {"\U0001f602": 1, "\U00010000": 2, "z": 3}):
        assert _dumps_parsed(value, True) == rfc8785.dumps(value)


def test_escapes_written_by_the_ocpp_package_are_read_on_the_fast_path() -> None:
    value = {"name": 'Ladesäule Größe € \ufffd \U0001f50c \x1b \\ "', "ä": [1, 2.5]}
    text = json.dumps(value, separators=(",", ":")).encode()
    assert b"\\u00e4" in text and b"\\ud83d\\udd0c" in text
    fast = _fast(text)
    assert fast is not None and fast.value == value
    assert _dumps_parsed(fast.value, True) == rfc8785.dumps(value)


def test_a_duplicate_member_hidden_behind_an_escaped_colon_is_refused() -> None:
    # Without the escaped colon the member counts would agree.
    text = b'{"a":1,"a":2,"b":"\\u003a"}'
    assert _fast(text) is None
    with pytest.raises(IJSONError, match="duplicate member"):
        parse(text)


@pytest.mark.parametrize(
    "value",
    [
        ["v1.0,2", 4200.0],
        {"a": "x:-0,", "b": -0.0},
        {"a": "5.0]", "b": [1.0, -0.0, "3.0}"]},
        ["1.5e-6,", 1.5e-6],
        {"k": "2e+16]", "n": 2e16, "m": 1234.0},
        -0.0,
        1.5e-6,
        2.5e16,
        4200.0,
        {"\uffff": 1.0, "\U0001f602": {"x": "1.0,", "y": 2.0}},
    ],
)
def test_number_look_alikes_in_strings_never_change(value: Any) -> None:
    assert _dumps_parsed(value, True) == rfc8785.dumps(value)


def test_dumps_parsed_escapes_control_characters_like_rfc8785() -> None:
    value = {"s": "".join(chr(c) for c in range(0x20)) + '"\\\x7f\u2028'}
    assert _dumps_parsed(value, True) == rfc8785.dumps(value)


# --------------------------------------------------------------------------- properties

_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
_INTS = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
# Any Unicode scalar value (no surrogates), biased towards the characters that matter for sorting
# and escaping: controls, quotes, the U+E000-U+FFFF block and astral characters.
_TEXT = st.text(
    st.one_of(
        st.characters(exclude_categories=_SURROGATES),
        st.sampled_from(
            [
                '"',
                "\\",
                "\n",
                "\x00",
                "\x1f",
                "\x7f",
                "\u2028",
                "\ue000",
                "\uffff",
                "\U0001f602",
                ":",
            ]
        ),
    ),
    max_size=8,
)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | _INTS | _FLOATS | _TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=20,
)
_SPACE = st.sampled_from(["", " ", "\n", "\t", "\r\n  ", "  "])


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _number_text(draw: st.DrawFn, number: float) -> str:
    """One of several spellings of the same exact decimal value."""
    shortest = repr(number)
    exact = Decimal(shortest)
    forms = [shortest, f"{exact:e}", f"{exact:E}"]
    if number.is_integer() and abs(number) < 1e15:
        forms.append(f"{int(number)}.000")
    return draw(st.sampled_from(forms))


@st.composite
def json_texts(draw: st.DrawFn) -> tuple[Any, str]:
    """A JSON value and a text for it: random whitespace, member order, escapes and number forms."""
    value = draw(JSON_VALUES.filter(lambda v: _depth(v) <= MAX_DEPTH))

    def write(v: Any) -> str:
        ws = draw(_SPACE)
        if isinstance(v, dict):
            items = draw(st.permutations(list(v.items())))
            inner = ",".join(f"{ws}{write_str(k)}{draw(_SPACE)}:{ws}{write(x)}" for k, x in items)
            return "{" + inner + ws + "}"
        if isinstance(v, list):
            return "[" + ",".join(ws + write(x) for x in v) + ws + "]"
        if isinstance(v, str):
            return write_str(v)
        if isinstance(v, float):
            return _number_text(draw, v)
        return json.dumps(v)

    def write_str(s: str) -> str:
        ascii_only = draw(st.booleans())
        if ascii_only:
            return json.dumps(s, ensure_ascii=True)
        return orjson.dumps(s).decode()

    return value, write(value)


def _same(a: Any, b: Any) -> bool:
    """Equal with the same JSON types (an int is not a float; -0.0 equals 0.0)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    return type(a) is type(b) and a == b


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(JSON_VALUES)
def test_dumps_equals_rfc8785_and_jcs_on_generated_values(value: Any) -> None:
    expected = rfc8785.dumps(value)
    assert dumps(value) == expected
    assert jcs.canonicalize(value) == expected


@FAST
@given(json_texts())
def test_parsed_text_canonicalizes_like_rfc8785_and_jcs(sample: tuple[Any, str]) -> None:
    value, text = sample
    parsed = parse(text.encode("utf-8"))
    assert _same(parsed.value, value) or _floats_as_ints(parsed.value, value)
    expected = rfc8785.dumps(value)
    assert _dumps_parsed(parsed.value, parsed.jcs_safe) == expected
    assert dumps(parsed.value) == expected
    assert jcs.canonicalize(parsed.value) == expected


def _floats_as_ints(got: Any, want: Any) -> bool:
    # An integral float written as e.g. "4.2E+3" reads back as a float, as it should; written
    # "4200" (never done above) it would be an int. Equality by canonical form covers both.
    return rfc8785.dumps(got) == rfc8785.dumps(want)


@FAST
@given(json_texts())
def test_the_three_readers_agree_and_never_claim_unsafe_jcs(sample: tuple[Any, str]) -> None:
    _value, text = sample
    raw = text.encode("utf-8")
    precise = _Reader(text).run()
    expected = rfc8785.dumps(precise.value)
    results: list[Parsed] = [precise]
    fast = _fast(raw)
    if fast is not None:
        results.append(fast)
    middle = _middle(text)
    if middle is not None:
        results.append(middle)
    for result in results:
        assert _same(result.value, precise.value)
        if result.jcs_safe:
            assert _dumps_parsed(result.value, True) == expected


# SPEC §2 refusals, each put into generated documents so that every reader meets them.
REFUSALS = [
    '{"dup": 1, "dup": 1}',
    '{"dup": 1, "d\\u0075p": 2}',
    '"\\ud800"',
    '"\\udfff"',
    "NaN",
    "-Infinity",
    "4199.99999999999999999",
    "1e-400",
    "1e400",
    "9007199254740992",
    "-9007199254740992",
    nested(MAX_DEPTH + 1),
]


@FAST
@given(
    JSON_VALUES,
    st.sampled_from(REFUSALS),
    st.sampled_from(["", '"\\n"', '"\\u00e9"', '"\\ud83d\\ude02"', "1e-7"]),
)
def test_every_refusal_is_refused_by_every_reader(value: Any, bad: str, steer: str) -> None:
    text = "[" + orjson.dumps(value).decode() + "," + (steer + "," if steer else "") + bad + "]"
    assert _fast(text.encode()) is None
    assert _middle(text) is None
    with pytest.raises(IJSONError):
        parse(text)
    with pytest.raises(IJSONError):
        _Reader(text).run()


@FAST
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_double_reads_back_from_its_shortest_form(number: float) -> None:
    text = repr(number)
    assert loads(text) == number
    assert dumps(loads(text)) == rfc8785.dumps(number)
    assert not math.isnan(loads(text))


def test_fast_writer_matches_rfc8785_on_doubles_of_every_magnitude() -> None:
    # The fast writer relies on orjson and RFC 8785 differing only for integral floats below 1e16
    # and the exponents e-6 and e+16..e+20; this sweeps doubles across the whole range.
    import random
    import struct

    import rfc8785

    from ocpp_e2e.canonical import _dumps_parsed

    rng = random.Random(20261122)
    checked = 0
    for i in range(30_000):
        if i % 3 == 0:
            number = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
            if number != number or abs(number) == float("inf"):
                continue
        elif i % 3 == 1:
            number = rng.uniform(-1, 1) * 10.0 ** rng.randint(-30, 30)
        else:
            number = float(rng.randint(-(10**6), 10**6)) * 10.0 ** rng.randint(-12, 25)
        value = {"v": [number, {"w": number}]}
        assert _dumps_parsed(value, True) == rfc8785.dumps(value), number
        checked += 1
    assert checked > 25_000


# Numbers where orjson and RFC 8785 differ, and strings that look like them in orjson's output.
_ODD_FLOATS = st.sampled_from(
    [0.0, -0.0, 4200.0, -17.0, 1.5e-6, -2e-6, 2.5e16, 1e20, 9.5e19, 2.0**53]
)
_LOOK_ALIKES = st.lists(
    st.sampled_from(
        [
            "1.0",
            "-0",
            ".0",
            "e-6",
            "e+16",
            "e+20",
            ",",
            "]",
            "}",
            ":",
            "[",
            '"',
            "\\",
            "\n",
            "\ufffd",
            "\U0001f602",
        ]
    ),
    max_size=6,
).map("".join)
_ODD_VALUES: st.SearchStrategy[Any] = st.recursive(
    _ODD_FLOATS | _FLOATS | _INTS | _LOOK_ALIKES | st.none(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(_LOOK_ALIKES | _TEXT, children, max_size=4)
    ),
    max_leaves=16,
)


@FAST
@given(_ODD_VALUES)
def test_fast_writer_rewrites_only_numbers_and_matches_rfc8785(value: Any) -> None:
    assert _dumps_parsed(value, True) == rfc8785.dumps(value)


@FAST
@given(_ODD_VALUES, st.booleans())
def test_text_written_by_json_or_the_ocpp_package_reads_like_the_precise_reader(
    value: Any, ascii_only: bool
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"))
    precise = _Reader(text).run()
    parsed = parse(text.encode())
    assert _same(parsed.value, precise.value)
    assert _dumps_parsed(parsed.value, parsed.jcs_safe) == rfc8785.dumps(precise.value)
