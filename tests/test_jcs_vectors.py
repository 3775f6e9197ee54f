"""RFC 8785 test vectors (shared/vectors/jcs): every input/output pair, Appendix B and the ES6
number files, through both writers (``dumps`` and the verification fast path ``_dumps_parsed``)."""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocpp_e2e.canonical import MAX_SAFE_INTEGER, _dumps_parsed, dumps, loads, parse
from ocpp_e2e.errors import IJSONError

# The repository is cloned next to shared/ (locally and in CI).
JCS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / "jcs"
PAIRS = sorted(p.name for p in (JCS / "input").glob("*.json")) if JCS.is_dir() else []

pytestmark = pytest.mark.skipif(not JCS.is_dir(), reason=f"{JCS} is missing")


def _double(ieee_hex: str) -> float:
    value: float = struct.unpack(">d", int(ieee_hex, 16).to_bytes(8, "big"))[0]
    return value


def test_the_vector_folder_has_all_six_pairs() -> None:
    assert PAIRS == [
        "arrays.json",
        "french.json",
        "structures.json",
        "unicode.json",
        "values.json",
        "weird.json",
    ]


# values.json holds 333333333.33333329: 17 significant digits whose exact decimal value is not the
# double it reads as (333333333.3333333). SPEC §2 refuses such literals before any cryptography, so
# the strict reader refuses that file; the writer is still checked on it through a lenient parse.
STRICT_REFUSED = {"values.json": ("$.numbers[0]", "does not survive a double")}
STRICT_PAIRS = [n for n in PAIRS if n not in STRICT_REFUSED]


@pytest.mark.parametrize("name", STRICT_PAIRS)
def test_input_canonicalizes_to_the_expected_bytes(name: str) -> None:
    raw = (JCS / "input" / name).read_bytes()
    expected = (JCS / "output" / name).read_bytes()
    assert dumps(loads(raw)) == expected


@pytest.mark.parametrize("name", STRICT_PAIRS)
def test_input_canonicalizes_to_the_expected_bytes_on_the_fast_path(name: str) -> None:
    raw = (JCS / "input" / name).read_bytes()
    parsed = parse(raw)
    assert _dumps_parsed(parsed.value, parsed.jcs_safe) == (JCS / "output" / name).read_bytes()


@pytest.mark.parametrize("name", PAIRS)
def test_writer_gives_the_expected_bytes_for_a_leniently_parsed_input(name: str) -> None:
    value = json.loads((JCS / "input" / name).read_bytes())
    expected = (JCS / "output" / name).read_bytes()
    assert dumps(value) == expected
    assert _dumps_parsed(value, False) == expected


def test_values_vector_is_refused_by_the_strict_reader_at_the_inexact_number() -> None:
    where, reason = STRICT_REFUSED["values.json"]
    with pytest.raises(IJSONError) as info:
        loads((JCS / "input" / "values.json").read_bytes())
    assert info.value.where is not None and info.value.where.startswith(where)
    assert reason in info.value.reason


def test_values_vector_with_the_number_in_its_shortest_form_canonicalizes_exactly() -> None:
    raw = (
        (JCS / "input" / "values.json")
        .read_bytes()
        .replace(b"333333333.33333329", b"333333333.3333333")
    )
    parsed = parse(raw)
    expected = (JCS / "output" / "values.json").read_bytes()
    assert _dumps_parsed(parsed.value, parsed.jcs_safe) == expected
    assert dumps(parsed.value) == expected


@pytest.mark.parametrize("name", PAIRS)
def test_outhex_shows_the_same_bytes_as_output(name: str) -> None:
    hex_text = (JCS / "outhex" / name.replace(".json", ".txt")).read_text()
    assert bytes.fromhex("".join(hex_text.split())) == (JCS / "output" / name).read_bytes()


@pytest.mark.parametrize("name", PAIRS)
def test_canonical_output_is_a_fixed_point(name: str) -> None:
    expected = (JCS / "output" / name).read_bytes()
    parsed = parse(expected)
    assert _dumps_parsed(parsed.value, parsed.jcs_safe) == expected
    assert dumps(loads(expected)) == expected


def _appendix_b() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((JCS / "rfc8785_appendix_b.json").read_text())
    return cases


def test_appendix_b_numbers() -> None:
    cases = [c for c in _appendix_b() if not c.get("error")]
    assert len(cases) >= 20
    for case in cases:
        value = _double(case["ieee_hex"])
        assert dumps(value).decode() == case["expected"], case
        assert _dumps_parsed(value, True).decode() == case["expected"], case
        assert _dumps_parsed([value], True).decode() == f"[{case['expected']}]", case


def test_appendix_b_nan_and_infinity_cannot_be_canonicalized() -> None:
    errors = [c for c in _appendix_b() if c.get("error")]
    assert {c["comment"].split()[0] for c in errors} == {"NaN", "Infinity"}
    for case in errors:
        value = _double(case["ieee_hex"])
        with pytest.raises(IJSONError, match="cannot canonicalize"):
            dumps(value)
        with pytest.raises(IJSONError, match="cannot canonicalize"):
            _dumps_parsed(value, False)


def _beyond_safe_integer(text: str) -> bool:
    return text.lstrip("-").isdigit() and abs(int(text)) > MAX_SAFE_INTEGER


def test_appendix_b_numbers_read_back_from_their_canonical_text() -> None:
    """Canonical number text reads back to itself, except integer literals beyond ±(2^53−1),
    which SPEC §2 refuses (2^53 and 2^68 of Appendix B are written as integers by RFC 8785)."""
    refused = 0
    for case in _appendix_b():
        text = case["expected"]
        if text is None:
            continue
        if _beyond_safe_integer(text):
            refused += 1
            with pytest.raises(IJSONError, match="beyond"):
                parse(text)
            continue
        parsed = parse(text)
        assert _dumps_parsed(parsed.value, parsed.jcs_safe).decode() == text, case
    assert refused >= 1


def _es6_lines(path: Path) -> Iterator[tuple[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="ascii") as fh:
        for line in fh:
            ieee_hex, expected = line.rstrip("\n").split(",")
            yield ieee_hex, expected


def _check_es6_file(path: Path, expected_lines: int) -> None:
    count = 0
    failures: list[str] = []
    for ieee_hex, expected in _es6_lines(path):
        count += 1
        value = _double(ieee_hex)
        slow = dumps(value).decode()
        fast = _dumps_parsed(value, True).decode()
        if slow != expected or fast != expected:
            failures.append(f"{ieee_hex}: dumps {slow}, _dumps_parsed {fast}, expected {expected}")
    assert count == expected_lines
    assert failures == []


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        ("es6testfile1k.txt", 1_000),
        ("es6testfile10k.txt", 10_000),
        ("es6testfile100k.txt.gz", 100_000),
    ],
)
def test_every_line_of_the_es6_number_file(name: str, lines: int) -> None:
    _check_es6_file(JCS / name, lines)


def test_es6_numbers_inside_an_array_on_the_fast_path() -> None:
    """The fast writer decides per document; a document mixing every form must still be exact."""
    pairs = list(_es6_lines(JCS / "es6testfile10k.txt"))
    values = [_double(h) for h, _ in pairs]
    expected = "[" + ",".join(e for _, e in pairs) + "]"
    assert _dumps_parsed(values, True).decode() == expected
    assert dumps(values).decode() == expected
