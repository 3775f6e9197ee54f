"""Audits of captured OCPP logs (docs/audit.md): read, pair, verify, decide and report.

The names below load on first use, so that reading one log line does not import the whole audit
(a CLI start stays fast).

>>> from ocpp_e2e.audit import AuditSettings, audit_logs
>>> audit_logs.__module__
'ocpp_e2e.audit.run'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr

if TYPE_CHECKING:
    from .engine import AuditDecision, FrameAuditor, FrameResult
    from .findings import Finding, FindingKind, Severity
    from .logs import LogFormat, LogRecord, ReadOptions, Side, read_logs
    from .report import json_lines, render_html
    from .run import AuditSettings, audit_logs
    from .summary import AuditReport, Summary

#: Public name -> the module of this package that defines it.
_WHERE = {
    "AuditDecision": "engine", "FrameAuditor": "engine", "FrameResult": "engine",
    "Finding": "findings", "FindingKind": "findings", "Severity": "findings",
    "LogFormat": "logs", "LogRecord": "logs", "ReadOptions": "logs", "Side": "logs",
    "read_logs": "logs", "json_lines": "report", "render_html": "report",
    "AuditSettings": "run", "audit_logs": "run", "AuditReport": "summary", "Summary": "summary",
}  # fmt: skip

__all__ = [
    "AuditDecision",
    "AuditReport",
    "AuditSettings",
    "Finding",
    "FindingKind",
    "FrameAuditor",
    "FrameResult",
    "LogFormat",
    "LogRecord",
    "ReadOptions",
    "Severity",
    "Side",
    "Summary",
    "audit_logs",
    "json_lines",
    "read_logs",
    "render_html",
]


__getattr__ = lazy_getattr(__name__, _WHERE)
