"""Outputs of an audit: JSON Lines and a self-contained HTML report.

The HTML report needs nothing from the network: CSS, the script that filters the findings table
and the SVG timeline are all inline, and a Content-Security-Policy forbids any other source.

>>> from ocpp_e2e.audit.summary import AuditReport, Summary
>>> "<svg" in render_html(AuditReport([], Summary()))
True
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from importlib import resources
from typing import Any

import orjson

from .summary import VERDICTS, AuditReport, Summary

__all__ = [
    "HTML_MAX_FINDINGS",
    "HTML_MAX_FRAMES",
    "json_lines",
    "render_html",
    "timeline_svg",
]

#: Findings embedded in the HTML table at most; the summary counts all of them.
HTML_MAX_FINDINGS = 20_000
#: Frames the HTML traffic view lists at most (the first, in input order); give this as
#: ``AuditSettings.keep_frames`` for an audit whose report is rendered.
HTML_MAX_FRAMES = 50_000
_COLORS = {
    "permit-signed": "#2e7d32",
    "permit-unsigned": "#90a4ae",
    "deny": "#c62828",
    "unread": "#6a1b9a",
}


def json_lines(report: AuditReport) -> Iterator[str]:
    """One JSON object a line: every finding in input order, then the summary."""
    for finding in report.findings:
        yield orjson.dumps(finding.to_dict()).decode("utf-8")
    yield orjson.dumps(report.summary.to_dict()).decode("utf-8")


def render_html(report: AuditReport, *, title: str = "") -> str:
    """The self-contained HTML report (summary, timeline, filterable findings, counts)."""
    template = resources.files("ocpp_e2e.audit").joinpath("report.html").read_text("utf-8")
    summary = report.summary
    data = summary.to_dict()
    shown = report.findings[:HTML_MAX_FINDINGS]
    traffic: dict[str, list[list[Any]]] = {}
    for _index, station, verdict, row in summary.rows:
        traffic.setdefault(station, []).append(
            [
                row.file,
                row.line,
                row.ts,
                row.direction,
                row.action,
                row.message_id,
                row.pair,
                verdict,
            ]
        )
    payload = {"summary": data, "findings": [f.to_dict() for f in shown], "traffic": traffic}
    # "<" escaped so that no "</script>" in a finding can end the data block.
    embedded = orjson.dumps(payload).decode("utf-8").replace("<", "\\u003c")
    truncated = ""
    if data["findings"] > len(shown):
        truncated = f"The table holds the first {len(shown)} of {data['findings']} findings; "
        truncated += (
            f"{summary.unlisted} were counted but not kept (--max-findings); --json lists the "
            f"first {len(report.findings)}."
            if summary.unlisted
            else "use --json for all of them."
        )
    files = ", ".join(f"{name} ({fmt})" for name, fmt in data["files"].items()) or "no input"
    listed = len(summary.rows)
    if not listed:
        traffic_note = "No frames kept for this view (render the report from an audit run with keep_frames, as --html does)."
    elif listed < data["frames"]:
        traffic_note = f"The traffic view lists the first {listed} of {data['frames']} frames."
    else:
        traffic_note = f"All {listed} frames."
    values = {
        "SUBTITLE": html.escape(title or _period(data)),
        "VERDICT": "PASSED" if summary.passed else "FAILED",
        "VERDICT_CLASS": "verdict-pass" if summary.passed else "verdict-fail",
        "FINDINGS": str(data["findings"]),
        "FRAMES": str(data["frames"]),
        "DENIED": str(data["verdicts"]["deny"]),
        "UNREADABLE": str(data["unreadableLines"]),
        "STATIONS": str(len(data["stations"])),
        "FILES": html.escape(
            f"Read {data['lines']} lines of {files}; {data['otherLines']} other lines."
        ),
        "TIMELINE": timeline_svg(summary),
        "TRUNCATED": html.escape(truncated),
        "STATION_ROWS": _station_rows(data["stations"]),
        "SIGNER_ROWS": _signer_rows(data["signers"]),
        "TRAFFIC_NOTE": html.escape(traffic_note),
        "INFERRED": _inferred(data["inferred"]),
        "DATA": embedded,
    }
    out = template
    for key, value in values.items():
        out = out.replace("{{" + key + "}}", value)
    return out


def _period(data: dict[str, Any]) -> str:
    if data["first"] is None:
        return "no frames"
    return f"Frames captured from {data['first']} to {data['last']}"


def _station_rows(stations: dict[str, dict[str, Any]]) -> str:
    return "".join(
        f"<tr><td>{html.escape(name)}</td><td class=num>{c['frames']}</td><td class=num>{c['signed']}</td>"
        f"<td class=num>{c['denied']}</td><td class=num>{c['findings']}</td>"
        f"<td>{html.escape(', '.join(f'{v} ({n})' for v, n in c['ocpp'].items()))}</td>"
        f"<td class=station-inferred>{_facts_per_file(c['inferred'])}</td></tr>"
        for name, c in stations.items()
    )


def _facts(facts: dict[str, str]) -> str:
    return "; ".join(f"{html.escape(what)}: {html.escape(text)}" for what, text in facts.items())


def _facts_per_file(per_file: dict[str, dict[str, str]]) -> str:
    return "<br>".join(
        f"<b>{html.escape(name)}</b>: {_facts(facts)}" for name, facts in per_file.items()
    )


def _inferred(inferred: dict[str, dict[str, str]]) -> str:
    return "".join(
        f"<li><b>{html.escape(name)}</b>: {_facts(facts)}</li>" for name, facts in inferred.items()
    )


def _signer_rows(signers: dict[str, int]) -> str:
    return "".join(
        f"<tr><td>{html.escape(name)}</td><td class=num>{count}</td></tr>"
        for name, count in signers.items()
    )


def timeline_svg(summary: Summary, *, width: int = 1200, height: int = 180) -> str:
    """An inline SVG bar chart: frames per time bucket, stacked by verdict.

    Denied and unreadable frames are drawn at least 3 px tall so that a single one stays visible
    next to thousands of permitted frames.
    """
    rows = summary.timeline_rows()
    top, bottom, left = 10, 24, 44
    plot_h = height - top - bottom
    if not rows:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="no frames"><text x="{left}" y="{height // 2}">no frames</text></svg>'
        )
    peak = max(sum(r[v] for v in VERDICTS) for r in rows) or 1
    slot = (width - left - 10) / len(rows)
    bar = max(1.0, slot * 0.85)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="frames per time bucket by verdict" id="timeline">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{top + 8}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, row in enumerate(rows):
        x = left + i * slot
        y = float(top + plot_h)
        label = html.escape(
            f"{row['start']} (+{row['minutes']} min): "
            + ", ".join(f"{v} {row[v]}" for v in VERDICTS)
        )
        parts.append(f"<g><title>{label}</title>")
        for verdict in VERDICTS:
            count = row[verdict]
            if not count:
                continue
            h = count / peak * plot_h
            if verdict in ("deny", "unread"):
                h = max(h, 3.0)
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{_COLORS[verdict]}" class="bar-{verdict}"/>'
            )
        parts.append("</g>")
    step = max(1, len(rows) // 8)
    for i in range(0, len(rows), step):
        x = left + i * slot
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}">{html.escape(rows[i]["start"][5:])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
