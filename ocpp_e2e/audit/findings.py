"""Findings of an audit: plain data with stable names (documented in docs/audit.md).

>>> FindingKind.REPLAYED.value, SEVERITY[FindingKind.REPLAYED].value
('replayed', 'critical')
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_FINDINGS",
    "SEVERITY",
    "Finding",
    "FindingKind",
    "Severity",
]


#: Findings a report lists at most, the first in input order (``AuditSettings.max_findings``,
#: ``--max-findings``); the summary counts every finding, and says how many are not listed. An
#: audit holds at most twice this many findings in memory (about 0.6 KiB each, measured).
MAX_FINDINGS = 50_000


class Severity(enum.StrEnum):
    """How bad a finding is; ``error`` and ``critical`` make the audit fail (exit status 1)."""

    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.WARNING: 0, Severity.ERROR: 1, Severity.CRITICAL: 2}


class FindingKind(enum.StrEnum):
    """What an audit can find; one name per problem, the same in JSON, HTML and docs."""

    UNSIGNED_REQUIRED = "unsigned-required"
    DENIED = "denied"
    INVALID = "invalid"
    UNKNOWN_SIGNER = "unknown-signer"
    REPLAYED = "replayed"
    STALE_TIMESTAMP = "stale-timestamp"
    FUTURE_TIMESTAMP = "future-timestamp"
    RESPONSE_WITHOUT_CALL = "response-without-call"
    RESPONSE_MOVED = "response-moved"
    UNANSWERED_CALL = "unanswered-call"
    TIME_BACKWARDS = "time-backwards"
    WRONG_STATION = "wrong-station"
    WRONG_DESTINATION = "wrong-destination"
    MALFORMED = "malformed"
    UNREADABLE_LINE = "unreadable-line"
    METER_INVALID = "meter-invalid"
    METER_UNTRUSTED = "meter-untrusted"
    METER_MALFORMED = "meter-malformed"
    METER_TRANSACTION = "meter-transaction"


#: The severity of each kind when the policy permitted the frame; a finding on a denied frame is
#: at least ``error``.
SEVERITY: dict[FindingKind, Severity] = {
    FindingKind.UNSIGNED_REQUIRED: Severity.ERROR,
    FindingKind.DENIED: Severity.ERROR,
    FindingKind.INVALID: Severity.CRITICAL,
    FindingKind.UNKNOWN_SIGNER: Severity.WARNING,
    FindingKind.REPLAYED: Severity.CRITICAL,
    FindingKind.STALE_TIMESTAMP: Severity.WARNING,
    FindingKind.FUTURE_TIMESTAMP: Severity.WARNING,
    FindingKind.RESPONSE_WITHOUT_CALL: Severity.WARNING,
    FindingKind.RESPONSE_MOVED: Severity.CRITICAL,
    FindingKind.UNANSWERED_CALL: Severity.WARNING,
    FindingKind.TIME_BACKWARDS: Severity.WARNING,
    FindingKind.WRONG_STATION: Severity.CRITICAL,
    FindingKind.WRONG_DESTINATION: Severity.ERROR,
    FindingKind.MALFORMED: Severity.ERROR,
    FindingKind.UNREADABLE_LINE: Severity.ERROR,
    FindingKind.METER_INVALID: Severity.CRITICAL,
    FindingKind.METER_UNTRUSTED: Severity.ERROR,
    FindingKind.METER_MALFORMED: Severity.ERROR,
    FindingKind.METER_TRANSACTION: Severity.ERROR,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place of the input.

    ``file``/``line`` say where it was read; ``ts`` is the capture time (RFC 3339, UTC);
    ``decision`` is the policy's decision on the frame (``permit``/``deny``, None when no decision
    was taken), ``rule`` the deciding rule and ``signers`` the counted signers' identities.
    """

    kind: FindingKind
    severity: Severity
    file: str
    line: int
    detail: str
    ts: str | None = None
    station: str | None = None
    direction: str | None = None
    message_id: str | None = None
    action: str | None = None
    decision: str | None = None
    rule: str | None = None
    signers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; field names are stable (docs/audit.md)."""
        return {
            "type": "finding",
            "kind": self.kind.value,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "ts": self.ts,
            "station": self.station,
            "direction": self.direction,
            "messageId": self.message_id,
            "action": self.action,
            "decision": self.decision,
            "rule": self.rule,
            "signers": list(self.signers),
            "detail": self.detail,
        }

    @property
    def fails(self) -> bool:
        """True when this finding makes the audit fail."""
        return self.severity is not Severity.WARNING
