"""The summary of an audit: counts per verdict, kind, station and signer, and a timeline.

Everything here is a count, so memory does not grow with the log (the timeline keeps one entry
per minute that saw frames).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .engine import FrameResult, FrameRow
from .findings import Finding
from .logs import ReadStats

__all__ = [
    "VERDICTS",
    "AuditReport",
    "StationCounts",
    "Summary",
]

VERDICTS = ("permit-signed", "permit-unsigned", "deny", "unread")


@dataclass
class StationCounts:
    """Per station: frames, frames with a valid trusted signature, denied frames, findings, and
    its frames per OCPP version they were read as."""

    frames: int = 0
    signed: int = 0
    denied: int = 0
    findings: int = 0
    versions: Counter[str] = field(default_factory=Counter)


@dataclass
class Summary:
    """Counts accumulated frame by frame (:meth:`add`), closed with :meth:`finish`."""

    items: int = 0
    unreadable: int = 0
    untimed: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    severities: Counter[str] = field(default_factory=Counter)
    stations: dict[str, StationCounts] = field(default_factory=dict)
    signers: Counter[str] = field(default_factory=Counter)
    timeline: dict[int, Counter[str]] = field(default_factory=dict)
    failing: int = 0
    stats: ReadStats = field(default_factory=ReadStats)
    #: frames kept for the report's traffic view, at most ``keep`` (the first in input order):
    #: (file index, station, verdict, row)
    keep: int = 0
    rows: list[tuple[int, str, str, FrameRow]] = field(default_factory=list)
    #: findings counted here but not listed in the report (beyond ``AuditSettings.max_findings``)
    unlisted: int = 0

    def keep_row(self, index: int, result: FrameResult) -> None:
        """Keep a frame for the traffic view (file ``index`` among the inputs)."""
        if result.row is not None and result.station is not None and len(self.rows) < self.keep:
            self.rows.append((index, result.station, result.verdict, result.row))

    def add(self, result: FrameResult) -> None:
        """Count one frame's result (or, with no station, an unreadable line's)."""
        self.items += 1
        if result.station is None:
            self.unreadable += 1
        else:
            self.verdicts[result.verdict] += 1
            if result.minute is None:
                self.untimed += 1
        for finding in result.findings:
            self.kinds[finding.kind.value] += 1
            self.severities[finding.severity.value] += 1
            if finding.fails:
                self.failing += 1
        if result.station is not None:
            counts = self.stations.get(result.station)
            if counts is None:
                counts = self.stations[result.station] = StationCounts()
            counts.frames += 1
            if result.ocpp is not None:
                counts.versions[result.ocpp] += 1
            counts.signed += bool(result.signers)
            counts.denied += result.verdict == "deny"
            counts.findings += len(result.findings)
        for signer in result.signers:
            self.signers[signer] += 1
        if result.minute is not None:
            bucket = self.timeline.get(result.minute)
            if bucket is None:
                bucket = self.timeline[result.minute] = Counter()
            bucket[result.verdict] += 1

    def merge(self, other: Summary) -> None:
        """Add the counts of ``other`` (the summary of another share of the input)."""
        self.items += other.items
        self.unreadable += other.unreadable
        self.untimed += other.untimed
        self.verdicts.update(other.verdicts)
        self.kinds.update(other.kinds)
        self.severities.update(other.severities)
        for name, theirs in other.stations.items():
            mine = self.stations.get(name)
            if mine is None:
                mine = self.stations[name] = StationCounts()
            mine.frames += theirs.frames
            mine.versions.update(theirs.versions)
            mine.signed += theirs.signed
            mine.denied += theirs.denied
            mine.findings += theirs.findings
        self.signers.update(other.signers)
        for minute, counts in other.timeline.items():
            bucket = self.timeline.get(minute)
            if bucket is None:
                bucket = self.timeline[minute] = Counter()
            bucket.update(counts)
        self.failing += other.failing
        if other.rows:
            self.rows.extend(other.rows)
            self.rows.sort(key=lambda r: (r[0], r[3].line))
            del self.rows[self.keep :]

    def add_late(self, finding: Finding) -> None:
        """Count a finding known only at the end of the input (not tied to a new frame)."""
        self.kinds[finding.kind.value] += 1
        self.severities[finding.severity.value] += 1
        self.failing += finding.fails
        if finding.station is not None:
            counts = self.stations.get(finding.station)
            if counts is None:
                counts = self.stations[finding.station] = StationCounts()
            counts.findings += 1

    def finish(self, stats: ReadStats) -> None:
        """Attach what the readers counted."""
        self.stats = stats

    @property
    def passed(self) -> bool:
        """True when no frame was denied and no finding is an error or critical."""
        return self.failing == 0 and self.verdicts["deny"] == 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``"type": "summary"``); field names are stable (docs/audit.md)."""
        minutes = sorted(self.timeline)
        return {
            "type": "summary",
            "passed": self.passed,
            "files": dict(self.stats.formats),
            "lines": self.stats.lines,
            "frames": sum(self.verdicts[v] for v in VERDICTS),
            "untimedFrames": self.untimed,
            "unreadableLines": self.unreadable,
            "otherLines": self.stats.other,
            "inferred": {k: dict(v) for k, v in self.stats.inferred.items()},
            "first": _minute(minutes[0]) if minutes else None,
            "last": _minute(minutes[-1]) if minutes else None,
            "verdicts": {v: self.verdicts[v] for v in VERDICTS},
            "findings": sum(self.kinds.values()),
            **({"findingsNotListed": self.unlisted} if self.unlisted else {}),
            "failing": self.failing,
            "byKind": dict(sorted(self.kinds.items())),
            "bySeverity": dict(sorted(self.severities.items())),
            "stations": {
                s: {
                    "frames": c.frames,
                    "signed": c.signed,
                    "denied": c.denied,
                    "findings": c.findings,
                    "ocpp": dict(sorted(c.versions.items())),
                    "inferred": {
                        source: dict(sorted(facts[s].items()))
                        for source, facts in self.stats.station_facts.items()
                        if s in facts
                    },
                }
                for s, c in sorted(self.stations.items())
            },
            "signers": dict(sorted(self.signers.items())),
        }

    def timeline_rows(self, buckets: int = 96) -> list[dict[str, Any]]:
        """The timeline in at most ``buckets`` bars: ``{"start", "minutes", <verdict>: count}``."""
        if not self.timeline:
            return []
        first, last = min(self.timeline), max(self.timeline)
        width = max(1, -(-(last - first + 1) // buckets))
        rows: dict[int, Counter[str]] = {}
        for minute, counts in self.timeline.items():
            start = first + (minute - first) // width * width
            rows.setdefault(start, Counter()).update(counts)
        return [
            {"start": _minute(m), "minutes": width, **{v: rows[m][v] for v in VERDICTS}}
            for m in sorted(rows)
        ]


def _minute(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass
class AuditReport:
    """The findings of an audit in input order, and its summary."""

    findings: list[Finding]
    summary: Summary

    @property
    def exit_status(self) -> int:
        """0 when nothing violates the policy, 1 otherwise."""
        return 0 if self.summary.passed else 1
