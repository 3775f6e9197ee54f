"""Property tests: every entry point that reads outside input gives a verdict or the project's
own error (:class:`~ocpp_e2e.errors.OcppE2EError`), never another exception (issue 11).

The entry points are the fuzz targets of ``fuzz/targets.py`` (one per reader: canonical reader,
frame parser and verifier, signature objects of §6 structures, policy loader JSON and YAML,
policy upgrades, keyrings/PEM/DER keys, certificate chains and CRLs, OCMF records, every audit
log format, tariffs/sessions/receipts, tickets and presentations); each target lets only the
project's own error through. Inputs are the targets' seeds with hostile JSON values put in at a
random place (numbers beyond every range, nesting deeper than any limit, long strings, dates
past the calendar, duplicate members, lone surrogates) and with random byte edits. The numbers
of examples are bounded so that all of them together take well under a minute; the fuzzers of
fuzz/ explore for minutes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz import targets  # the entry points and their seeds

#: JSON texts an attacker puts where a value belongs.
HOSTILE_VALUES = [
    "1e400",
    "-1e400",
    "0e99999999999999999999",
    "1e-99999999999999999999",
    "9" * 5000,
    "9007199254740993",
    "4199.99999999999999999",
    "-0",
    "1.5",
    "true",
    "null",
    "[]",
    "{}",
    '"' + "x" * 10_000 + '"',
    '"\\ud800"',
    '"\\u0000"',
    '"9999-12-31T23:59:59-01:00"',
    '"0001-01-01T00:00:00+01:00"',
    '"2027-02-30T00:00:00Z"',
    '"PT99999999999999999999H"',
    '"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\ngarbage"',
    '{"a": 1, "a": 2}',
    "[" * 40 + "]" * 40,
    '{"a":' * 40 + "1" + "}" * 40,
]
_MARK = "\u2063hostile\u2063"


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_places(v, (*path, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_places(v, (*path, i)))
    return out


def _put(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _put(value[head], rest, new)}
    copy = list(value)
    copy[head] = _put(copy[head], rest, new)
    return copy


@st.composite
def hostile_inputs(draw: st.DrawFn, name: str) -> bytes:
    """A seed of ``name`` with a hostile JSON value at one place, or with a few byte edits."""
    seed: bytes = draw(st.sampled_from(targets.seeds(name)))
    try:
        doc = json.loads(seed)
    except ValueError:
        doc = None
    if doc is not None and draw(st.booleans()):
        path = draw(st.sampled_from(_places(doc)))
        text = json.dumps(_put(doc, path, _MARK), ensure_ascii=False)
        return text.replace(json.dumps(_MARK, ensure_ascii=False), draw(st.sampled_from(HOSTILE_VALUES)), 1).encode()
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "replace", "delete", "cut"]))
        byte = draw(st.sampled_from([0x00, 0x22, 0x2C, 0x2D, 0x30, 0x39, 0x5B, 0x5D, 0x7B, 0x7D, 0x0A, 0xFF, 0xC3]))
        if op == "insert":
            data[pos:pos] = bytes([byte])
        elif op == "replace" and pos < len(data):
            data[pos] = byte
        elif op == "delete" and pos < len(data):
            del data[pos]
        elif op == "cut":
            del data[pos:]
    return bytes(data)


#: Examples per target: the slower entry points (a whole audit, certificate chains) get fewer.
EXAMPLES = {
    "canonical": 300,
    "frame": 150,
    "structure": 150,
    "policy-json": 120,
    "policy-yaml": 120,
    "policy-upgrade": 100,
    "keys": 200,
    "pki": 100,
    "ocmf": 200,
    "audit": 40,
    "tariff": 120,
    "ticket": 80,
}


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_hostile_input_gets_a_verdict_or_the_projects_own_error(name: str) -> None:
    run = targets.TARGETS[name]

    @settings(
        max_examples=EXAMPLES.get(name, 60),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(hostile_inputs(name))
    def prop(data: bytes) -> None:
        run(data)  # the target lets only OcppE2EError through

    prop()


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_get_a_verdict_or_the_projects_own_error_everywhere(data: bytes) -> None:
    for name, run in targets.TARGETS.items():
        if name != "audit":  # a whole audit per example is covered above
            run(data)
