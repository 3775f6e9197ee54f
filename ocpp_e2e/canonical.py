"""SPEC §2: a strict I-JSON reader and the RFC 8785 (JCS) writer.

:func:`loads` refuses, before any cryptography, everything SPEC §2 lists (duplicate members,
invalid UTF-8, a BOM, lone surrogates, NaN/Infinity, numbers that do not survive a double,
integers beyond ±(2^53−1), nesting deeper than 32, more than 1 MiB), with an :class:`IJSONError`
that names the JSON path, line and column.

Two readers share one contract. The fast one lets orjson parse and proves with cheap whole-text
checks (and, for the few long or tiny number literals, a check of each) that nothing SPEC §2
refuses can be present; whenever it cannot prove that (a duplicate member, a literal that does
not survive a double, an integer beyond ±(2^53−1), deep nesting, a parse error...) the precise
pure-Python reader below decides and produces the error message. Tests assert that both agree.

>>> loads(b'{"b": 1, "a": [true, null]}')
{'b': 1, 'a': [True, None]}
>>> dumps({"b": 1, "a": 4200.0})
b'{"a":4200,"b":1}'
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import orjson
import rfc8785

from .errors import IJSONError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_SAFE_INTEGER",
    "Parsed",
    "check_number",
    "dumps",
    "json_path",
    "loads",
    "parse",
    "reads_exactly",
]

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1

_BOM = b"\xef\xbb\xbf"
# The fast reader works on a copy of the text in which digits and '.' read '0', 'e'/'E' read 'e',
# '+'/'-' read '-' and everything else ' '. In it, whole-text substring tests find, at C speed,
# what the fast reader cannot vouch for (it then hands the text to the precise reader):
# - 16 digits or dots in a row: integers beyond 2^53 and numbers with more than 15 significant
#   digits, the only literals that can change value through a double (see check_number);
# - negative three-digit exponents: numbers that can fall below the normal range of a double
#   (positive ones either overflow, which orjson refuses, or stay in the normal range).
# A literal with at most 15 significant digits in the normal range of a double survives it
# unchanged, so for everything else orjson's reading is the one SPEC §2 allows.
_NUMBER_SHAPE = bytes(
    ord("0")
    if chr(c) in "0123456789."
    else ord("e")
    if chr(c) in "eE"
    else ord("-")
    if chr(c) in "+-"
    else ord(" ")
    for c in range(256)
)
_LONG_RUN = b"0" * 16
_TINY_EXPONENT = re.compile(rb"e-000")  # a literal pattern: faster than `in` on long texts
# orjson writes integral floats as "4200.0" and large/small ones with an exponent, where RFC 8785
# wants "4200", "10000000000000000" or "0.000001": _has_integral_float and _has_exponent find those
# (a string that merely looks like one only costs the slower writer).
_DEEP_LINE = b"\n" + b" " * (2 * MAX_DEPTH)
_ESCAPED_COLON = re.compile(rb"\\u003[aA]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class Parsed(NamedTuple):
    """A parsed value, and whether it is plain JSON for :func:`_dumps_parsed` (always, from the
    readers here: str, int, float, bool, None, dict, list)."""

    value: Any
    jcs_safe: bool


def loads(data: bytes | str) -> Any:
    """Parse strict I-JSON (SPEC §2); raise :class:`IJSONError` with the place and the reason."""
    return parse(data).value


def parse(data: bytes | str) -> Parsed:
    """Like :func:`loads`, also telling whether :func:`_dumps_parsed` may take the fast path."""
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            return _Reader(data).run()
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = data if type(data) is bytes else bytes(data)
    else:
        raise TypeError(f"expected bytes or str, got {type(data).__name__}")
    if len(raw) > MAX_BYTES:
        raise IJSONError(
            f"input of {len(raw)} bytes exceeds the limit of {MAX_BYTES} bytes (1 MiB)", "$"
        )
    if raw.startswith(_BOM):
        raise IJSONError("input starts with a byte-order mark", "$ (line 1, column 1)")
    fast = _fast(raw)
    if fast is not None:
        return fast
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise IJSONError(f"invalid UTF-8 at byte {exc.start} (line {line})", "$") from None
    middle = _middle(text)
    if middle is not None:
        return middle
    return _Reader(text).run()


def _fast(raw: bytes) -> Parsed | None:
    try:
        value = orjson.loads(raw)
        # Integers beyond ±(2^53−1) make the strict writer fail. Depth: with two-space
        # indentation every newline is structural and a line's indentation is twice its nesting
        # level, so no line indented 64 spaces means nesting below 33 (exactly 32 with content
        # also goes to the precise reader).
        lines = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_STRICT_INTEGER)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # also the writer's nesting limit
        return None
    if _DEEP_LINE in lines:
        return None
    if orjson.dumps(value) == raw:
        # Text that orjson writes back byte for byte (the canonical frames of ocpp-e2e signers,
        # and most senders' compact frames) holds only orjson's shortest round-trip number
        # forms, which SPEC §2 accepts, and has lost no member.
        return Parsed(value, True)
    # Duplicate members: every ':' of the text is a member separator or inside a string, and the
    # value written again has the same strings (the indented form writes '": ' after a name), so
    # a member lost to a duplicate name shows as a lost ':'. An escaped colon (backslash u003a)
    # is a colon more in the written text: orjson never escapes ':'. An escaped backslash
    # followed by "u003a" is counted too, which only makes the counts differ and sends the text
    # to the precise reader. (orjson refuses lone surrogates, escaped or not.)
    colons = raw.count(b":")
    if b"\\" in raw and b"\\u003" in raw:  # one byte first: a search for two is 15 times slower
        colons += len(_ESCAPED_COLON.findall(raw))
    if colons != lines.count(b":"):
        return None
    # orjson reads a literal with a fraction or an exponent as a double: the literal checks
    # described at _NUMBER_SHAPE find those whose value could change on the way, and each such
    # literal is read again on its own.
    shape = raw.translate(_NUMBER_SHAPE)
    if (_LONG_RUN in shape or _TINY_EXPONENT.search(shape) is not None) and not _exact_literals(
        raw, shape
    ):
        return None
    return Parsed(value, True)


def _exact_literals(raw: bytes, shape: bytes) -> bool:
    """Whether every literal that the checks at _NUMBER_SHAPE flag is a number SPEC §2 accepts.

    A flagged run lies in a maximal run of number characters (a token). A number token stands
    at the start of the text or after ':', ',' or '[' (and whitespace); such a token is read by
    :func:`check_number` and must read as orjson read it; any token refused (or no number:
    inside a string) answers False, and the precise reader decides. Tokens after anything else
    are inside strings and do not matter.
    """
    for at in _flagged(shape):
        start = shape.rfind(b" ", 0, at) + 1
        end = shape.find(b" ", at)
        if end < 0:
            end = len(shape)
        before = start - 1
        while before >= 0 and raw[before] in b" \t\r\n":
            before -= 1
        if before < 0 or raw[before] in b":,[":
            literal = raw[start:end]
            try:
                # ... and orjson read it as the same number.
                if orjson.loads(literal) != check_number(literal.decode("ascii")):
                    return False
            except (ValueError, orjson.JSONDecodeError):
                return False
    return True


def _flagged(shape: bytes) -> list[int]:
    """Where the literal checks at _NUMBER_SHAPE find something, one place per token at most."""
    places = []
    at = shape.find(_LONG_RUN)
    while at >= 0:
        places.append(at)
        end = shape.find(b" ", at)
        at = -1 if end < 0 else shape.find(_LONG_RUN, end)
    places += [m.start() for m in _TINY_EXPONENT.finditer(shape)]
    return places


class _Refused(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Refused
    return out


def _number(literal: str) -> int | float:
    try:
        return check_number(literal)
    except ValueError:
        raise _Refused from None


def _constant(literal: str) -> Any:
    raise _Refused


def _middle(text: str) -> Parsed | None:
    """The standard library's reader with SPEC §2 hooks: for what the fast reader declines
    (escapes, long numbers); None when anything is refused, so that the precise reader explains."""
    if _SURROGATE_ESCAPE.search(text) is not None:
        return None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_float=_number,
            parse_int=_number,
            parse_constant=_constant,
        )
    except (_Refused, ValueError, RecursionError):
        return None
    try:
        if _DEEP_LINE in orjson.dumps(value, option=orjson.OPT_INDENT_2):
            return None
    except orjson.JSONEncodeError:  # nesting beyond orjson's writer limit
        return None
    return Parsed(value, True)


# --------------------------------------------------------------------------- writer


def dumps(value: Any) -> bytes:
    """RFC 8785 canonical bytes of any JSON value (refuses NaN, big integers, non-JSON types)."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise IJSONError(f"cannot canonicalize: {exc}", "$") from exc


def _dumps_parsed(value: Any, jcs_safe: bool) -> bytes:
    """RFC 8785 bytes of a value assembled from :func:`parse` results (the verification hot path).

    ``jcs_safe`` says that ``value`` is plain JSON: str, int within ±(2^53−1), finite float, bool,
    None, dict with str keys, list — everything :func:`parse` returns, and values built around it
    of the same types. Then orjson writes it (at C speed) and the few places where orjson and
    RFC 8785 differ are rewritten in its output; otherwise :func:`dumps` checks every value.
    """
    if not jcs_safe or type(value) is float:
        return dumps(value)
    out = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    option = orjson.OPT_SORT_KEYS
    if (b"\xee" in out or b"\xef" in out) and _high_member_names(out):
        # Member names with characters from U+E000..U+FFFF and from outside the BMP: the only
        # names whose UTF-16 order (RFC 8785) differs from orjson's code point order.
        value = _utf16_ordered(value)
        option = 0
        out = orjson.dumps(value)
    # (A regular expression that starts with a literal scans as fast as a substring test.)
    out = _integral_floats(out, value, option)
    if _EXPONENT_SMALL.search(out) is not None or (
        b"+" in out and _EXPONENT_LARGE.search(out) is not None
    ):
        out = _exponents(out, value)
    return out


# orjson and RFC 8785 write a double the same way except in three cases (checked against the rfc8785
# package on 300,000 doubles of every magnitude, and on the 100,000 numbers of the ES6 test file):
# an integral float below 1e16 ("4200.0" for "4200", "-0.0" for "0"), and the exponent forms e-6
# ("1.5e-6" for "0.0000015") and e+16 to e+20 ("1e+16" for "10000000000000000"). Strings never
# change. The patterns below find these forms in orjson's compact output, where a string could
# hold a look-alike ('"v1.0,2"'); the same forms in orjson's indented output are certainly
# numbers, because a number there ends a line and a string cannot hold a raw line feed. When
# both counts agree, every look-alike in the compact output is a number and is rewritten in
# place; otherwise the indented output is rewritten instead and read back (rare). Every pattern
# starts with a literal: the regular expression engine then skips ahead at C speed (a leading
# class or look-behind makes it try every byte, 30 times slower).
_INTEGRAL_FLOAT = re.compile(rb"\.0(?=[,}\]])(?<=[0-9]\.0)")
_INTEGRAL_FLOAT_LINE = re.compile(rb"\.0(?=,?\n)(?<=[0-9]\.0)")
_NEGATIVE_ZERO = re.compile(rb"-0(?=[,}\]])(?<=[:\[,]-0)")
_NEGATIVE_ZERO_LINE = re.compile(rb"-0\.0(?=,?\n)(?<= -0\.0)")
_EXPONENT_SMALL = re.compile(rb"e-6(?=[,}\]])(?<=[0-9]e-6)")
_EXPONENT_LARGE = re.compile(rb"e\+(?:1[6-9]|20)(?=[,}\]])(?<=[0-9]e\+..)")
_EXPONENT_LINE = re.compile(rb"e(?:-6|\+1[6-9]|\+20)(?=,?\n)")
_MANTISSA = re.compile(rb"(-?)([0-9])(?:\.([0-9]+))?")


def _outside_strings(out: bytes, starts: list[int]) -> bool:
    """Whether every place of ``starts`` (ascending) lies outside the strings of orjson's output
    ``out``, which holds no backslash: then every '"' opens or closes a string."""
    quotes = 0
    done = 0
    for start in starts:
        quotes += out.count(b'"', done, start)
        done = start
        if quotes % 2:
            return False
    return True


def _integral_floats(out: bytes, value: Any, option: int) -> bytes:
    """``out`` with every integral float written as an integer ("4200.0" -> "4200", "-0.0" -> "0")."""
    starts = [m.start() for m in _INTEGRAL_FLOAT.finditer(out)]
    if not starts:
        return out
    if b"\\" not in out and _outside_strings(out, starts):
        # Every match is a number: drop its ".0" ("-0" becomes "0").
        pieces: list[bytes] = []
        done = 0
        for start in starts:
            if out[start - 2 : start] == b"-0" and out[start - 3 : start - 2] in (b":", b"[", b","):
                pieces += (out[done : start - 2], b"0")
            else:
                pieces.append(out[done:start])
            done = start + 2
        pieces.append(out[done:])
        return b"".join(pieces)
    # A string may hold a look-alike. In the indented output the same forms are certainly
    # numbers (they end a line); when both counts agree every match is a number.
    fixed, count = _INTEGRAL_FLOAT.subn(b"", out)
    lines = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    if count == len(_INTEGRAL_FLOAT_LINE.findall(lines)):
        if b"-0" not in fixed:
            return fixed
        fixed, zeros = _NEGATIVE_ZERO.subn(b"0", fixed)
        if not zeros or zeros == len(_NEGATIVE_ZERO_LINE.findall(lines)):
            return fixed
    # A string holds a look-alike: rewrite the indented form, where each match is a number, and
    # let orjson read it back (the rewritten numbers are now integers; "-0" reads as 0) and write
    # it compactly.
    lines = orjson.dumps(value, option=option | orjson.OPT_INDENT_2)
    return orjson.dumps(orjson.loads(_INTEGRAL_FLOAT_LINE.sub(b"", lines)), option=option)


def _exponents(out: bytes, value: Any) -> bytes:
    """``out`` with the exponent forms RFC 8785 writes in full ("1.5e-6" -> "0.0000015")."""
    starts = sorted(
        m.start() for pattern in (_EXPONENT_SMALL, _EXPONENT_LARGE) for m in pattern.finditer(out)
    )
    if not (b"\\" not in out and _outside_strings(out, starts)):
        numbers = len(_EXPONENT_LINE.findall(orjson.dumps(value, option=orjson.OPT_INDENT_2)))
        if len(starts) != numbers:
            return dumps(value)  # a string holds a look-alike of such a number (rare)
    pieces: list[bytes] = []
    done = 0
    for start in starts:
        begin = start - 1  # the mantissa ends here; it starts after ':', '[' or ','
        while begin > 0 and out[begin] not in b":[,":
            begin -= 1
        mantissa = _MANTISSA.fullmatch(out, begin + 1, start)
        if mantissa is None:
            return dumps(value)
        sign = b"-" if mantissa.group(1) else b""
        digits = mantissa.group(2) + (mantissa.group(3) or b"")
        if out[start + 1] == 0x2D:  # "e-6"
            number = sign + b"0.00000" + digits
            end = start + 3
        else:  # "e+16" .. "e+20"
            end = start + 4
            number = sign + digits + b"0" * (int(out[start + 2 : end]) + 1 - len(digits))
        pieces += (out[done : begin + 1], number)
        done = end
    pieces.append(out[done:])
    return b"".join(pieces)


_BMP_HIGH = (b"\xee", b"\xef")
_ASTRAL = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")


def _high_member_names(out: bytes) -> bool:
    """Whether member names in orjson's output hold characters from U+E000..U+FFFF and from
    outside the BMP (UTF-8 lead bytes EE/EF and F0..F4, which occur only inside strings)."""
    return (
        any(lead in out for lead in _ASTRAL)
        and _in_member_name(out, _ASTRAL)
        and _in_member_name(out, _BMP_HIGH)
    )


def _in_member_name(out: bytes, leads: tuple[bytes, ...]) -> bool:
    for lead in leads:
        at = out.find(lead)
        while at >= 0:
            # The end of this string: the next '"' that is not escaped (orjson writes '"' and
            # '\' inside strings as two-byte escapes). A ':' after it makes it a member name.
            end = out.find(b'"', at)
            while out[end - 1] == 0x5C:
                k = end - 1
                while out[k] == 0x5C:
                    k -= 1
                if (end - 1 - k) % 2 == 0:
                    break
                end = out.find(b'"', end + 1)
            if out[end + 1 : end + 2] == b":":
                return True
            at = out.find(lead, end)
    return False


_ASTRAL_LEAD = re.compile(rb"[\xf0-\xf4]")
_MEMBER_NAME = re.compile(rb'"((?:[^"\\]|\\.)*)": ')


def _utf16_ordered(value: Any) -> Any:
    """A copy whose objects list their members in RFC 8785 order (UTF-16 code units).

    orjson sorts by code point; the orders differ only between a name with a character outside
    the BMP and one with a character from U+E000..U+FFFF at the same place, so only objects with
    a member name outside the BMP are sorted again. They are found in orjson's sorted, indented
    output (one member per line, a line's indentation is twice its depth, strings hold no raw
    line feed), their members' blocks of lines are reordered there, and orjson reads the text
    back (it keeps the members in the order read). Each object is scanned once: linear time.
    """
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
    lines = text.split(b"\n")
    # (indentation of the members, opening line, closing line) of each object to sort again.
    objects: list[tuple[int, int, int]] = []
    closing: dict[int, int] = {}  # indentation -> closing line of the last such object there
    row, counted = 0, 0
    found = _ASTRAL_LEAD.search(text)
    while found is not None:
        at = found.start()
        row += text.count(b"\n", counted, at)
        counted = at
        start = text.rfind(b"\n", 0, at) + 1
        line = lines[row]
        indent = len(line) - len(line.lstrip(b" "))
        member = _MEMBER_NAME.match(line, indent)
        if member is not None and at - start < member.end(1) and closing.get(indent, -1) < row:
            opener = row - 1
            while len(lines[opener]) - len(lines[opener].lstrip(b" ")) >= indent:
                opener -= 1
            closer = row + 1
            while len(lines[closer]) - len(lines[closer].lstrip(b" ")) >= indent:
                closer += 1
            objects.append((indent, opener, closer))
            closing[indent] = closer
        end = text.find(b"\n", at)
        found = None if end < 0 else _ASTRAL_LEAD.search(text, end)
    if not objects:
        return value
    for indent, opener, closer in sorted(objects, reverse=True):  # the deepest first
        blocks: list[tuple[bytes, list[bytes]]] = []
        for line in lines[opener + 1 : closer]:
            if line[indent : indent + 1] == b'"':
                member = _MEMBER_NAME.match(line, indent)
                assert member is not None
                name = orjson.loads(b'"' + member.group(1) + b'"')
                blocks.append((name.encode("utf-16-be"), [line]))
            else:
                blocks[-1][1].append(line)
        blocks.sort(key=lambda block: block[0])
        ordered: list[bytes] = []
        for _, block in blocks:
            if block[-1].endswith(b","):
                block[-1] = block[-1][:-1]
            ordered += block
            ordered[-1] += b","
        ordered[-1] = ordered[-1][:-1]
        lines[opener + 1 : closer] = ordered
    return orjson.loads(b"\n".join(lines))


# --------------------------------------------------------------------------- precise reader

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_PLAIN = re.compile(r'[^"\\\x00-\x1f\ud800-\udfff]*')
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_path(parts: tuple[str | int, ...]) -> str:
    """Render a path as ``$.a[0]["odd key"]``."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENT.fullmatch(part):
            out.append(f".{part}")
        else:
            out.append("[" + orjson.dumps(part).decode() + "]")
    return "".join(out)


def check_number(literal: str) -> int | float:
    """Read a JSON number literal as SPEC §2 allows, or raise ValueError with the reason."""
    if "." not in literal and "e" not in literal and "E" not in literal:
        if len(literal.lstrip("-")) > 16:  # before int(), which refuses over 4300 digits
            raise ValueError(f"integer of {len(literal.lstrip('-'))} digits is beyond ±(2^53−1)")
        number = int(literal)
        if abs(number) > MAX_SAFE_INTEGER:
            raise ValueError(f"integer {literal} is beyond ±(2^53−1)")
        return number
    f = float(literal)
    if math.isinf(f):
        raise ValueError(f"number {literal} is beyond the range of a double")
    shortest = repr(f)
    if shortest != literal and not reads_exactly(literal, f):
        raise ValueError(f"number {literal} does not survive a double (it reads as {shortest})")
    return f


def reads_exactly(literal: str, number: float) -> bool:
    """Whether the decimal value of a number ``literal`` is exactly the finite double ``number``
    it reads as (SPEC §2), compared as decimals of the double's shortest round-trip form."""
    try:
        return Decimal(literal) == Decimal(repr(number))
    except InvalidOperation:
        # An exponent beyond Decimal's own range (0e99999999999999999999): only a zero mantissa
        # has a value a double holds; anything else is 0 or infinity as a double, not exact.
        mantissa = literal.lstrip("+-").partition("e")[0].partition("E")[0]
        return number == 0 and not mantissa.strip("0.")


class _Reader:
    """Recursive-descent reader that knows where it is, for precise error messages."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.safe = True

    def run(self) -> Parsed:
        if self.text.startswith("\ufeff"):
            self.fail("input starts with a byte-order mark", ())
        self.skip()
        value = self.value((), 1)
        self.skip()
        if self.pos != len(self.text):
            self.fail("unexpected data after the JSON value", ())
        return Parsed(value, self.safe)

    def where(self, path: tuple[str | int, ...]) -> str:
        line = self.text.count("\n", 0, self.pos) + 1
        col = self.pos - (self.text.rfind("\n", 0, self.pos) + 1) + 1
        return f"{json_path(path)} (line {line}, column {col})"

    def fail(self, reason: str, path: tuple[str | int, ...]) -> None:
        raise IJSONError(reason, self.where(path))

    def skip(self) -> None:
        m = _WS.match(self.text, self.pos)
        assert m is not None
        self.pos = m.end()

    def value(self, path: tuple[str | int, ...], depth: int) -> Any:
        text = self.text
        if self.pos >= len(text):
            self.fail("unexpected end of input (truncated JSON)", path)
        ch = text[self.pos]
        if ch in "{[":
            if depth > MAX_DEPTH:
                self.fail(f"nesting deeper than {MAX_DEPTH} levels", path)
            return self.obj(path, depth) if ch == "{" else self.arr(path, depth)
        if ch == '"':
            return self.string(path)
        if ch == "-" or ch.isdigit():
            m = _NUMBER.match(text, self.pos)
            if m is None:
                if text.startswith("-Infinity", self.pos):
                    self.fail("-Infinity is not JSON", path)
                self.fail("invalid number", path)
            assert m is not None
            try:
                number = check_number(m.group())
            except ValueError as exc:
                self.fail(str(exc), path)
            self.pos = m.end()
            return number
        for word, result in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, self.pos):
                self.pos += len(word)
                return result
        for word in ("NaN", "Infinity", "-Infinity"):
            if text.startswith(word, self.pos):
                self.fail(f"{word} is not JSON", path)
        self.fail(f"unexpected character {ch!r}", path)

    def obj(self, path: tuple[str | int, ...], depth: int) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        self.skip()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return out
        while True:
            self.skip()
            if not self.text.startswith('"', self.pos):
                self.fail_separator("a member name in double quotes", path)
            key = self.string(path)
            if key in out:
                self.fail(f"duplicate member name {orjson.dumps(key).decode()}", path)
            self.skip()
            if not self.text.startswith(":", self.pos):
                self.fail_separator("':' after a member name", (*path, key))
            self.pos += 1
            self.skip()
            out[key] = self.value((*path, key), depth + 1)
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return out
            self.fail_separator("',' or '}' in an object", path)

    def arr(self, path: tuple[str | int, ...], depth: int) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        self.skip()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return out
        while True:
            self.skip()
            out.append(self.value((*path, len(out)), depth + 1))
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return out
            self.fail_separator("',' or ']' in an array", path)

    def fail_separator(self, expected: str, path: tuple[str | int, ...]) -> None:
        if self.pos >= len(self.text):
            self.fail("unexpected end of input (truncated JSON)", path)
        self.fail(f"expected {expected}", path)

    def string(self, path: tuple[str | int, ...]) -> str:
        text = self.text
        self.pos += 1
        parts: list[str] = []
        while True:
            m = _PLAIN.match(text, self.pos)
            assert m is not None
            parts.append(m.group())
            self.pos = m.end()
            if self.pos >= len(text):
                self.fail("unterminated string (truncated JSON)", path)
            ch = text[self.pos]
            if ch == '"':
                self.pos += 1
                return "".join(parts)
            if ch != "\\":
                if "\ud800" <= ch <= "\udfff":
                    self.fail("lone surrogate in a string", path)
                self.fail(f"control character U+{ord(ch):04X} must be escaped in a string", path)
            esc = text[self.pos + 1 : self.pos + 2]
            if esc in _ESCAPES:
                parts.append(_ESCAPES[esc])
                self.pos += 2
                continue
            if esc != "u":
                self.fail(f"invalid escape sequence \\{esc}", path)
            code = self.hex4(self.pos + 2, path)
            self.pos += 6
            if 0xD800 <= code <= 0xDBFF:
                if text.startswith("\\u", self.pos):
                    low = self.hex4(self.pos + 2, path)
                    if 0xDC00 <= low <= 0xDFFF:
                        parts.append(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                        self.pos += 6
                        continue
                self.fail(f"lone surrogate \\u{code:04x} in a string", path)
            if 0xDC00 <= code <= 0xDFFF:
                self.fail(f"lone surrogate \\u{code:04x} in a string", path)
            parts.append(chr(code))

    def hex4(self, start: int, path: tuple[str | int, ...]) -> int:
        digits = self.text[start : start + 4]
        if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
            self.fail("invalid \\u escape", path)
        return int(digits, 16)
