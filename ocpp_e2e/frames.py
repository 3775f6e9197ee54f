"""OCPP-J frames (the RPC framework of OCPP-J 1.6, also used by 2.0.1 and 2.1).

>>> frame = parse_frame('[2, "19223201", "Heartbeat", {}]', ocpp="2.0.1")
>>> frame.type.name, frame.action
('CALL', 'Heartbeat')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from .canonical import parse
from .errors import FrameError
from .versions import OCPP_VERSIONS, VERSIONS, MessageType, profile

__all__ = [
    "MAX_MESSAGE_ID",
    "OCPP_VERSIONS",
    "Frame",
    "MessageType",
    "call_error",
    "dumps_frame",
    "parse_frame",
    "security_error",
]

_TYPES: Mapping[int, MessageType] = {int(t): t for t in MessageType}
_LENGTHS: Mapping[MessageType, int] = {
    MessageType.CALL: 4,
    MessageType.SEND: 4,
    MessageType.CALLRESULT: 3,
    MessageType.CALLERROR: 5,
    MessageType.CALLRESULTERROR: 5,
}
_ACTION = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")
MAX_MESSAGE_ID = 36


class Frame(NamedTuple):
    """A checked OCPP-J frame.

    ``payload`` is the object that signatures protect: the payload of CALL/CALLRESULT/SEND, or for
    CALLERROR/CALLRESULTERROR ``{"errorCode", "errorDescription", "errorDetails"}`` (SPEC §3).
    ``value`` is the frame as a JSON list; ``jcs_safe`` comes from the strict reader.
    """

    type: MessageType
    message_id: str
    action: str | None
    payload: dict[str, Any]
    value: list[Any]
    error_code: str | None = None
    error_description: str | None = None
    error_details: dict[str, Any] | None = None
    jcs_safe: bool = False

    @property
    def is_call(self) -> bool:
        return self.type in (MessageType.CALL, MessageType.SEND)

    @property
    def is_response(self) -> bool:
        return self.type in (
            MessageType.CALLRESULT,
            MessageType.CALLERROR,
            MessageType.CALLRESULTERROR,
        )


def parse_frame(data: bytes | str | list[Any], *, ocpp: str = "2.0.1") -> Frame:
    """Parse and check an OCPP-J frame; raise :class:`FrameError` (or IJSONError) with the reason.

    Bytes and text go through the strict I-JSON reader of SPEC §2; a list is taken as already parsed
    (then no ``jcs_safe`` shortcut is taken when it is verified).
    """
    version = profile(ocpp, error=FrameError)
    if isinstance(data, list):
        value, safe = data, False
    else:
        parsed = parse(data)
        value, safe = parsed.value, parsed.jcs_safe
    if not isinstance(value, list) or not value:
        raise FrameError("an OCPP-J frame is a non-empty JSON array", "$")
    mtype = value[0]
    kind = _TYPES.get(mtype) if type(mtype) is int else None
    if kind is None:
        raise FrameError(f"unknown message type {orjson.dumps(mtype).decode()}", "$[0]")
    if kind not in version.message_types:
        having = ", ".join(v for v, p in VERSIONS.items() if kind in p.message_types)
        raise FrameError(
            f"message type {int(kind)} ({kind.name}) exists only in OCPP {having}", "$[0]"
        )
    expected = _LENGTHS[kind]
    if len(value) != expected:
        raise FrameError(
            f"a {kind.name} frame has {expected} elements, this one has {len(value)}", "$"
        )
    message_id = value[1]
    if not isinstance(message_id, str) or not message_id:
        raise FrameError("the message id must be a non-empty string", "$[1]")
    if len(message_id) > MAX_MESSAGE_ID:
        raise FrameError(
            f"the message id has {len(message_id)} characters; at most {MAX_MESSAGE_ID}", "$[1]"
        )
    if kind in (MessageType.CALL, MessageType.SEND):
        action = value[2]
        if not isinstance(action, str) or _ACTION.fullmatch(action) is None:
            raise FrameError("the action must be an OCPP action name (letters and digits)", "$[2]")
        payload = value[3]
        if not isinstance(payload, dict):
            raise FrameError("the payload must be a JSON object", "$[3]")
        return Frame(kind, message_id, action, payload, value, jcs_safe=safe)
    if kind is MessageType.CALLRESULT:
        payload = value[2]
        if not isinstance(payload, dict):
            raise FrameError("the payload must be a JSON object", "$[2]")
        return Frame(kind, message_id, None, payload, value, jcs_safe=safe)
    code, description, details = value[2], value[3], value[4]
    if not isinstance(code, str) or code not in version.error_codes:
        raise FrameError(f"unknown OCPP {ocpp} error code {orjson.dumps(code).decode()}", "$[2]")
    if not isinstance(description, str):
        raise FrameError("the error description must be a string", "$[3]")
    if not isinstance(details, dict):
        raise FrameError("the error details must be a JSON object", "$[4]")
    error_object = {"errorCode": code, "errorDescription": description, "errorDetails": details}
    return Frame(kind, message_id, None, error_object, value, code, description, details, safe)


def call_error(
    message_id: str, code: str, description: str, details: Mapping[str, Any] | None = None
) -> list[Any]:
    """Build a CALLERROR frame ``[4, id, code, description, details]``."""
    return [int(MessageType.CALLERROR), message_id, code, description, dict(details or {})]


def security_error(
    message_id: str, reason: str, details: Mapping[str, Any] | None = None
) -> list[Any]:
    """A CALLERROR ``SecurityError`` that tells the peer why its message was refused.

    >>> security_error("42", "no valid signature of role grid-operator")[:3]
    [4, '42', 'SecurityError']
    """
    merged = {"reason": reason, **dict(details or {})}
    return call_error(message_id, "SecurityError", reason[:255], merged)


def dumps_frame(frame: list[Any]) -> str:
    """Compact frame text (UTF-8 characters unescaped)."""
    return orjson.dumps(frame).decode("utf-8")
