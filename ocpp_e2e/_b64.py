"""Strict base64url (RFC 4648 §5, no padding) and standard base64, as SPEC §1 requires."""

from __future__ import annotations

import base64
import binascii
import re

_B64STD = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


class Base64Error(ValueError):
    """A string that is not canonical base64/base64url."""


_STD_TO_URL = bytes.maketrans(b"+/", b"-_")


def b64url_encode(data: bytes) -> str:
    """Encode without padding. ``b64url_encode(b"\\xff") == "_w"``."""
    return binascii.b2a_base64(data, newline=False).translate(_STD_TO_URL, b"=").decode("ascii")


_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
_URL_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


# The last character of a 2- or 3-character tail carries 4 or 2 padding bits, which must be zero.
_ZERO_TAIL = {
    2: frozenset("AQgw"),
    3: frozenset("AEIMQUYcgkosw048"),
}
_PAD = {0: b"", 2: b"==", 3: b"="}
_NOT_URL = "not base64url (only A-Z a-z 0-9 - _ are allowed, without padding)"


def b64url_problem(text: object) -> str | None:
    """Why ``text`` is not canonical base64url (no padding, no foreign characters, zero
    trailing bits), or None: :func:`b64url_decode`'s verdict without decoding."""
    if type(text) is not str or _URL_ALPHABET.fullmatch(text) is None:
        return _NOT_URL
    tail = len(text) % 4
    if tail:
        if tail == 1:
            return _NOT_URL
        if text[-1] not in _ZERO_TAIL[tail]:
            return "not canonical base64url (non-zero trailing bits)"
    return None


def b64url_size(text: str) -> int:
    """The number of bytes canonical base64url ``text`` (see :func:`b64url_problem`) encodes."""
    return len(text) * 3 // 4


def b64url_decode(text: str) -> bytes:
    """Decode canonical base64url: no padding, no foreign characters, zero trailing bits.

    Refusing every non-canonical spelling matters: otherwise one signature or key has several
    encodings, and caches or comparisons keyed by the text can be bypassed.
    """
    problem = b64url_problem(text)
    if problem is not None:
        raise Base64Error(problem)
    return b64url_decode_checked(text)


def b64url_decode_checked(text: str) -> bytes:
    """Decode ``text`` that :func:`b64url_problem` found canonical (no second check)."""
    # Only the alphabet is left and the padding is exact: the standard decoder cannot differ.
    return binascii.a2b_base64(text.encode("ascii").translate(_URL_TO_STD) + _PAD[len(text) % 4])


def b64_decode(text: str) -> bytes:
    """Decode canonical standard base64 with padding (used for DER certificates, SPEC §1)."""
    if not isinstance(text, str) or not text.isascii() or _B64STD.fullmatch(text) is None:
        raise Base64Error("not standard base64 with padding")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:  # pragma: no cover - the regex already refuses these
        raise Base64Error(f"not base64: {exc}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise Base64Error("not canonical base64 (non-zero trailing bits)")
    return raw


def b64_encode(data: bytes) -> str:
    """Standard base64 with padding."""
    return base64.b64encode(data).decode("ascii")


_PEM_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9][A-Z0-9 ]*)-----")
_PEM_SPACE = re.compile(r"[ \t\r\n]*")


def pem_blocks(data: bytes | str) -> list[tuple[str, bytes]]:
    """The ``(label, DER)`` of each block of a PEM text, read strictly (RFC 7468 §3 strict form).

    Nothing but whitespace may stand before, between or after the blocks, and each body must be
    canonical standard base64: trailing garbage, a second key appended, stray characters or a
    body that only decodes loosely raise :class:`Base64Error` saying where, instead of being
    ignored by a lenient decoder.

    >>> pem_blocks("-----BEGIN X-----\\nAAE=\\n-----END X-----\\n")
    [('X', b'\\x00\\x01')]
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as exc:
            raise Base64Error(f"PEM text holds a non-ASCII byte at offset {exc.start}") from None
    else:
        text = data
        if not text.isascii():
            raise Base64Error("PEM text holds a non-ASCII character")
    blocks: list[tuple[str, bytes]] = []
    pos = _PEM_SPACE.match(text, 0).end()  # type: ignore[union-attr]  # always matches
    while pos < len(text):
        line = text.count("\n", 0, pos) + 1
        begin = _PEM_BEGIN.match(text, pos)
        if begin is None:
            what = "after the PEM block" if blocks else "before the PEM block"
            raise Base64Error(f"unexpected text {what} (line {line}): {text[pos : pos + 20]!r}")
        label = begin.group(1)
        end_marker = f"-----END {label}-----"
        end = text.find(end_marker, begin.end())
        if end < 0:
            raise Base64Error(f"PEM block {label} (line {line}) has no {end_marker!r} line")
        body = re.sub(r"[ \t\r\n]", "", text[begin.end() : end])
        try:
            der = b64_decode(body)
        except Base64Error as exc:
            raise Base64Error(f"PEM block {label} (line {line}): {exc}") from None
        if not der:
            raise Base64Error(f"PEM block {label} (line {line}) is empty")
        blocks.append((label, der))
        pos = _PEM_SPACE.match(text, end + len(end_marker)).end()  # type: ignore[union-attr]
    if not blocks:
        raise Base64Error("no PEM block")
    return blocks


def pem_one(data: bytes | str, label: str) -> bytes:
    """The DER of the one PEM block of ``data``, which must be labelled ``label``."""
    blocks = pem_blocks(data)
    if len(blocks) != 1:
        raise Base64Error(f"expected one PEM block, found {len(blocks)}")
    found, der = blocks[0]
    if found != label:
        raise Base64Error(f"expected a PEM block {label}, found {found}")
    return der
