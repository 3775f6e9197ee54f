"""I-Regexp (RFC 9485): check that a pattern is one, and translate it to a Python ``re`` pattern.

The parser follows the ABNF of RFC 9485 §3 exactly; anything outside it (``\\d``, ``\\w``, ``^``
as an anchor, back-references, lazy quantifiers, ``(?...)`` groups) is refused rather than guessed.
The translation gives every construct the RFC meaning in Python terms:

* ordinary characters, including ``^`` and ``$``, are literals (``re.escape``);
* ``.`` matches any character except ``\\n`` and ``\\r`` (RFC 9485 §5.3);
* ``\\p{..}``/``\\P{..}`` become explicit code point ranges computed from ``unicodedata``, since
  Python ``re`` has no Unicode property classes;
* groups are non-capturing; the caller matches with ``fullmatch`` (SPEC §7: full match).

Python's engine backtracks, so a quantified group that itself holds an unbounded quantifier (the
``(a+)+`` shape that takes exponential time on a crafted string) is refused, as is a range
quantifier above 1000. Frames are attacker-controlled; policy patterns must stay linear.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache

_MAX_REPEAT = 1000
#: Groups nested deeper than this are refused (the parser recurses once per group; Python's
#: ``re`` itself refuses about a hundred levels).
_MAX_GROUP_DEPTH = 32
_CATEGORIES = {
    "L": "lmotu",
    "M": "cen",
    "N": "dlo",
    "P": "cdefios",
    "Z": "lps",
    "S": "ckmo",
    "C": "cfno",
}
_SINGLE_ESC = set("()*+-.?[\\]^{|}") | {"n", "r", "t"}
_SINGLE_ESC_MAP = {"n": "\n", "r": "\r", "t": "\t"}


class IRegexpError(ValueError):
    """A pattern that is not an I-Regexp, with the 0-based position of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position


@lru_cache(maxsize=64)
def _category_ranges(prop: str) -> tuple[tuple[int, int], ...]:
    """Code point ranges whose general category starts with ``prop`` (``L`` or ``Lu``)."""
    ranges: list[tuple[int, int]] = []
    start = -1
    for cp in range(sys.maxunicode + 1):
        inside = unicodedata.category(chr(cp)).startswith(prop)
        if inside and start < 0:
            start = cp
        elif not inside and start >= 0:
            ranges.append((start, cp - 1))
            start = -1
    if start >= 0:
        ranges.append((start, sys.maxunicode))
    return tuple(ranges)


def _complement(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    nxt = 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= sys.maxunicode:
        out.append((nxt, sys.maxunicode))
    return tuple(out)


def _class_item(lo: int, hi: int) -> str:
    if lo == hi:
        return re.escape(chr(lo))
    return f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.depth = 0

    def error(self, message: str) -> IRegexpError:
        return IRegexpError(message, self.i)

    def peek(self) -> str | None:
        return self.p[self.i] if self.i < len(self.p) else None

    def regexp(self) -> tuple[str, bool]:
        """Parse alternatives: the Python text, and whether it holds an unbounded quantifier."""
        branches: list[str] = []
        unbounded = False
        while True:
            text, unb = self.branch()
            branches.append(text)
            unbounded = unbounded or unb
            if self.peek() != "|":
                return "|".join(branches), unbounded
            self.i += 1

    def branch(self) -> tuple[str, bool]:
        pieces: list[str] = []
        unbounded = False
        while self.peek() not in (None, "|", ")"):
            atom, inner_unbounded = self.atom()
            quant, quant_unbounded, repeats = self.quantifier()
            if repeats and inner_unbounded:
                raise self.error(
                    "a repeated group may not contain * + or {n,} (catastrophic backtracking)"
                )
            pieces.append(atom + quant)
            unbounded = unbounded or inner_unbounded or quant_unbounded
        return "".join(pieces), unbounded

    def quantifier(self) -> tuple[str, bool, bool]:
        """Returns (text, unbounded, repeats more than once)."""
        c = self.peek()
        if c in ("*", "+"):
            self.i += 1
            return c, True, True
        if c == "?":
            self.i += 1
            return "?", False, False
        if c != "{":
            return "", False, False
        m = re.compile(r"\{([0-9]+)(,([0-9]*))?\}").match(self.p, self.i)
        if m is None:
            raise self.error("a range quantifier is {n}, {n,} or {n,m}")
        if any(len(g) > len(str(_MAX_REPEAT)) for g in (m.group(1), m.group(3) or "")):
            # Thousands of digits: compared as text, before int() refuses or spends time on them.
            raise self.error(f"range quantifiers are limited to {_MAX_REPEAT}")
        low = int(m.group(1))
        high = None if m.group(2) and not m.group(3) else int(m.group(3) or m.group(1))
        if low > _MAX_REPEAT or (high is not None and high > _MAX_REPEAT):
            raise self.error(f"range quantifiers are limited to {_MAX_REPEAT}")
        if high is not None and high < low:
            raise self.error(f"range quantifier {{{low},{high}}} has its bounds reversed")
        self.i = m.end()
        text = f"{{{low},}}" if high is None else f"{{{low},{high}}}"
        return text, high is None, high is None or high > 1

    def atom(self) -> tuple[str, bool]:
        c = self.peek()
        assert c is not None
        if c == "(":
            if self.depth >= _MAX_GROUP_DEPTH:
                raise self.error(f"groups are nested deeper than {_MAX_GROUP_DEPTH}")
            self.i += 1
            self.depth += 1
            inner, unbounded = self.regexp()
            self.depth -= 1
            if self.peek() != ")":
                raise self.error("unclosed group")
            self.i += 1
            return f"(?:{inner})", unbounded
        if c == ".":
            self.i += 1
            return r"[^\n\r]", False
        if c == "[":
            return self.char_class(), False
        if c == "\\":
            return self.escape(in_class=False), False
        if c in "*+?{":
            raise self.error(f"quantifier {c!r} without anything to repeat")
        if c in "]}":
            raise self.error(f"{c!r} must be escaped as \\{c}")
        self.i += 1
        return re.escape(c), False

    def escape(self, *, in_class: bool) -> str:
        """Parse a backslash escape; returns Python class content (in_class) or an atom."""
        self.i += 1
        c = self.peek()
        if c is None:
            raise self.error("pattern ends with a lone backslash")
        if c in _SINGLE_ESC:
            self.i += 1
            char = _SINGLE_ESC_MAP.get(c, c)
            return re.escape(char)
        if c in ("p", "P"):
            m = re.compile(r"[pP]\{([LMNPZSC])([a-z]?)\}").match(self.p, self.i)
            if m is None or (m.group(2) and m.group(2) not in _CATEGORIES[m.group(1)]):
                raise self.error("\\p{..} takes a Unicode general category such as L, Lu or Nd")
            self.i = m.end()
            ranges = _category_ranges(m.group(1) + m.group(2))
            if c == "P":
                ranges = _complement(ranges)
            content = "".join(_class_item(lo, hi) for lo, hi in ranges)
            return content if in_class else f"[{content}]"
        raise self.error(f"\\{c} is not an I-Regexp escape")

    def class_char(self) -> tuple[str, int | None]:
        """One CCchar: returns its Python text and code point (None for a property escape)."""
        c = self.peek()
        if c is None:
            raise self.error("unclosed character class")
        if c == "\\":
            if self.p.startswith(("\\p", "\\P"), self.i):
                return self.escape(in_class=True), None
            start = self.i
            text = self.escape(in_class=True)
            raw = self.p[start + 1]
            return text, ord(_SINGLE_ESC_MAP.get(raw, raw))
        if c in "[]":
            raise self.error(f"{c!r} must be escaped inside a character class")
        self.i += 1
        return re.escape(c), ord(c)

    def char_class(self) -> str:
        self.i += 1  # '['
        out = "["
        if self.peek() == "^":
            self.i += 1
            out += "^"
        items: list[str] = []
        if self.peek() == "-":
            self.i += 1
            items.append(r"\-")
        while self.peek() != "]":
            if self.peek() is None:
                raise self.error("unclosed character class")
            if self.peek() == "-":
                self.i += 1
                if self.peek() != "]":
                    raise self.error("'-' is allowed only first or last in a class, or in a range")
                items.append(r"\-")
                break
            text, low = self.class_char()
            if self.peek() == "-" and self.i + 1 < len(self.p) and self.p[self.i + 1] != "]":
                if low is None:
                    raise self.error("a \\p{..} escape cannot start a range")
                self.i += 1
                high_text, high = self.class_char()
                if high is None:
                    raise self.error("a \\p{..} escape cannot end a range")
                if high < low:
                    raise self.error("character range out of order")
                items.append(f"{text}-{high_text}")
            else:
                items.append(text)
        self.i += 1  # ']'
        if not items:
            raise self.error("empty character class")
        return out + "".join(items) + "]"


def compile_iregexp(pattern: str) -> re.Pattern[str]:
    """Check that ``pattern`` is an I-Regexp and compile its Python translation.

    Raises :class:`IRegexpError` naming the position of the first problem.

    >>> compile_iregexp("cs-[0-9]{4}").fullmatch("cs-0001") is not None
    True
    >>> compile_iregexp("a^b").fullmatch("a^b") is not None
    True
    """
    parser = _Parser(pattern)
    text, _ = parser.regexp()
    if parser.i != len(pattern):
        raise parser.error("unbalanced ')'")
    return re.compile(text)
