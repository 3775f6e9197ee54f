"""``ocpp-e2e audit``: audit captured OCPP message logs against a signature policy."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from typer.core import TyperGroup

from ..audit.findings import MAX_FINDINGS
from ..audit.logs import LogFormat, ReadOptions, Side
from ..errors import OcppE2EError
from ..integrations.clock import system_clock
from ._io import check_ocpp, fail, renamed, write_output

if TYPE_CHECKING:  # imported when used: --help, or a start, pays only for what it needs
    from ..audit.cluster import Cluster
    from ..audit.run import AuditSettings
    from ..audit.summary import AuditReport

__all__ = [
    "audit",
]

app = typer.Typer(
    name="audit",
    help="Audit captured OCPP message logs: every frame verified, every decision explained.",
    add_completion=False,
    pretty_exceptions_enable=False,
)

_EPILOG = (
    "Example: ocpp-e2e audit examples/audit/day.jsonl.gz --policy examples/audit/policy.yaml "
    "--html report.html. Exit status: 0 nothing violates the policy, 1 something does, "
    "2 usage or input error."
)


#: What ``--dask`` stands for when no address follows it: a local cluster (see _AuditCommand).
_LOCAL = ""
#: Dask's communication schemes (distributed.comm): an address names one, a host and a port.
_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
_ADDRESS = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?(?P<host>[^/\s]*?)(?::(?P<port>[0-9]+))?/?"
)


def _address_problem(address: str) -> str | None:
    """Why ``address`` is not a Dask scheduler address (None when it is one).

    >>> _address_problem("tcp://10.0.0.5:8786") is None
    True
    >>> _address_problem("http://10.0.0.5:8786")
    "is not a Dask scheduler address: unknown scheme 'http' (Dask's: tcp, tls, ws, wss, ucx, inproc)"
    """
    match = _ADDRESS.fullmatch(address)
    if match is None or not match["host"] or (match["scheme"] is None and match["port"] is None):
        return "is not a Dask scheduler address such as tcp://host:8786"
    scheme = match["scheme"] or "tcp"
    if scheme not in _SCHEMES:
        known = ", ".join(_SCHEMES)
        return f"is not a Dask scheduler address: unknown scheme {scheme!r} (Dask's: {known})"
    if scheme != "inproc" and (match["port"] is None or not 0 < int(match["port"]) < 65536):
        return "is not a Dask scheduler address: it needs a port from 1 to 65535 (tcp://host:8786)"
    return None


def _takes_address(token: str) -> bool:
    """Is this token, after a bare ``--dask``, meant as its address (rather than a log file)?"""
    return "://" in token or re.fullmatch(r"[^/\s]+:[0-9]+", token) is not None


class _AuditCommand(TyperGroup):
    """The audit command, whose ``--dask`` takes an optional value.

    Typer declares options with or without a value, not both: ``--dask`` is declared with one,
    and a ``--dask`` that is not followed by an address (a word with ``://`` or ``host:port``)
    is read as ``--dask=`` (a local cluster) before the usual parsing. So ``--dask``,
    ``--dask tcp://host:8786`` and ``--dask=tcp://host:8786`` all work, and ``--dask LOG...``
    leaves the logs alone.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _optional_dask_value(args))


def _optional_dask_value(args: list[str]) -> list[str]:
    """``args`` with each bare ``--dask`` that has no address after it written ``--dask=``.

    >>> _optional_dask_value(["day.log", "--dask", "--policy", "p.yaml"])
    ['day.log', '--dask=', '--policy', 'p.yaml']
    >>> _optional_dask_value(["--dask", "tcp://10.0.0.5:8786", "day.log"])
    ['--dask', 'tcp://10.0.0.5:8786', 'day.log']
    >>> _optional_dask_value(["--dask", "day.log", "--", "--dask"])
    ['--dask=', 'day.log', '--', '--dask']
    """
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        following = args[i + 1] if i + 1 < len(args) else None
        if arg == "--dask" and (following is None or not _takes_address(following)):
            arg = f"--dask={_LOCAL}"
        out.append(arg)
    return out


@app.callback(
    cls=_AuditCommand,
    invoke_without_command=True,
    epilog=_EPILOG,
    context_settings={"allow_interspersed_args": True},
)
def audit(
    logs: Annotated[
        list[str],
        typer.Argument(
            help="Log files (plain, gzip, bzip2 or xz), fsspec URLs (s3://, gs://, file://) or "
            "globs, or - for stdin. Files are audited in the order of their names.",
            show_default=False,
        ),
    ],
    policy: Annotated[
        Path,
        typer.Option(
            "--policy", "-p", help="The signature policy (JSON or YAML) to audit against."
        ),
    ],
    fmt: Annotated[
        LogFormat, typer.Option("--format", "-f", help="Log format; auto detects it per file.")
    ] = LogFormat.AUTO,
    ocpp: Annotated[
        str | None,
        typer.Option(
            "--ocpp",
            help="OCPP version of frames whose log does not tell it (default: inferred from the "
            "frames, else 2.0.1).",
        ),
    ] = None,
    side: Annotated[
        Side | None,
        typer.Option(
            "--side",
            help="Which end wrote the log (csms or station), where the log cannot tell "
            "(default: inferred from who sends BootNotification and the like).",
        ),
    ] = None,
    station: Annotated[
        str | None,
        typer.Option(
            "--station", help="The station's identity, for logs that do not name it (EVerest)."
        ),
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="Structured JSON logs: where a member is, NAME=DOTTED.PATH for NAME frame, "
            "station, time or direction. Repeatable.",
        ),
    ] = None,
    tz: Annotated[
        str, typer.Option("--tz", help="Time zone of log timestamps written without an offset.")
    ] = "UTC",
    csms: Annotated[
        str | None,
        typer.Option(
            "--csms-id", help="The CSMS's own id, for destination checks of frames to it."
        ),
    ] = None,
    meter_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--meter-key",
            help="A trusted meter public key file for signed meter values (OCMF): PEM, DER, hex "
            "or base64. Repeatable.",
        ),
    ] = None,
    meter_keyring: Annotated[
        list[Path] | None,
        typer.Option(
            "--meter-keyring", help='A meter keyring JSON file {"keys": [...]}. Repeatable.'
        ),
    ] = None,
    meter_cert: Annotated[
        list[Path] | None,
        typer.Option(
            "--meter-cert",
            help="A meter certificate chain file (PEM, leaf first) with the usage meterSigning, "
            "validated against the policy's trust anchors. Repeatable.",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-w",
            help="Worker processes: more than 1 runs the audit on a local Dask cluster of that "
            "size (stations are spread; the report is the same).",
        ),
    ] = 1,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            metavar="[ADDRESS]",
            help="Run on Dask: without ADDRESS a local cluster (one worker process per core, or "
            "--workers); with a scheduler address (tcp://host:8786) that cluster, which needs "
            "--scratch.",
            show_default=False,
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", hidden=True, help="Old spelling of --dask ADDRESS."),
    ] = None,
    scratch: Annotated[
        str | None,
        typer.Option(
            "--scratch",
            help="Folder or fsspec URL every Dask worker can reach, for the routed shards "
            "(default: a temporary folder on this machine, for a local cluster).",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per finding, then the summary.")
    ] = False,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Write a self-contained HTML report to this file.")
    ] = None,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            help="Seconds of a station's capture time a CALL may wait for its answer before it "
            "is reported as unanswered-call.",
        ),
    ] = 60.0,
    show: Annotated[
        int, typer.Option("--show", help="Findings listed in the terminal at most.")
    ] = 50,
    max_findings: Annotated[
        int,
        typer.Option(
            "--max-findings",
            help="Findings the report lists at most (the first in input order); the summary "
            "counts all of them and says how many are not listed. Bounds the audit's memory: "
            "at most twice this many findings are held (under 1 KiB each).",
        ),
    ] = MAX_FINDINGS,
) -> None:
    """Verify every frame of the logs, decide it under the policy and report the findings."""
    if not 0 < grace <= 86_400:
        fail(f"--grace must be more than 0 and at most 86400 seconds, not {grace}")
    if ocpp is not None:
        check_ocpp(ocpp)
    if workers < 1:
        fail(f"--workers must be at least 1, not {workers}")
    if max_findings < 1:
        fail(f"--max-findings must be at least 1, not {max_findings}")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        fail(f"--tz: unknown time zone {tz!r} (use an IANA name such as Europe/Berlin)")
    console = Console(stderr=json_out)
    # The audit's own modules, imported when it runs (not to show its help).
    from ..audit.report import HTML_MAX_FRAMES, json_lines
    from ..audit.run import AuditSettings
    from ..audit.structured import parse_fields

    try:
        options = ReadOptions(
            format=fmt,
            ocpp=ocpp,
            side=side,
            station=station,
            tz=zone,
            fields=parse_fields(field or []),
        )
        settings = AuditSettings(
            policy=str(policy),
            now=system_clock(),
            csms_identity=csms,
            meter_keys=tuple(str(p) for p in meter_key or ()),
            meter_keyrings=tuple(str(p) for p in meter_keyring or ()),
            meter_certificates=tuple(str(p) for p in meter_cert or ()),
            keep_frames=HTML_MAX_FRAMES if html_out is not None else 0,
            grace_seconds=grace,
            max_findings=max_findings,
        )
        cluster = _cluster(dask, scheduler, workers, scratch)
        if cluster is not None and not json_out:
            console.print(f"auditing on {cluster.describe()}", highlight=False)
        report = _run(logs, options, settings, cluster, console)
    except OcppE2EError as exc:
        fail(str(exc))
    if html_out is not None:
        from ..audit.report import render_html

        write_output(str(html_out), render_html(report))
    if json_out:
        for line in json_lines(report):
            sys.stdout.write(line + "\n")
    else:
        _print(report, console, show)
        if html_out is not None:
            console.print(f"HTML report written to {html_out}")
    raise typer.Exit(report.exit_status)


def _cluster(
    dask: str | None, scheduler: str | None, workers: int, scratch: str | None
) -> Cluster | None:
    """Where the audit runs: one process, a local Dask cluster, or the one at an address."""
    dask = renamed(dask, scheduler, "--dask", "--scheduler")  # hidden, for one release
    if dask is not None and dask != _LOCAL:
        problem = _address_problem(dask)
        if problem is not None:
            fail(f"--dask: {dask!r} {problem}")
        if workers > 1:
            fail(
                "--workers sizes a local cluster; an existing cluster (--dask ADDRESS) has its own"
            )
        from ..audit.cluster import Cluster

        return Cluster(address=dask, scratch=scratch)
    if dask is not None or workers > 1:
        from ..audit.cluster import Cluster

        return Cluster(workers=workers if workers > 1 else None, scratch=scratch)
    if scratch is not None:
        fail("--scratch is for Dask runs (--dask [ADDRESS] or --workers > 1)")
    return None


def _run(
    logs: list[str],
    options: ReadOptions,
    settings: AuditSettings,
    cluster: Cluster | None,
    console: Console,
) -> AuditReport:
    from ..audit.run import audit_logs

    if not console.is_terminal:
        return audit_logs(logs, options, settings, cluster=cluster)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("auditing"),
        BarColumn(bar_width=None),
        TextColumn("{task.completed} items"),
    )
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("audit", total=None)
        return audit_logs(
            logs,
            options,
            settings,
            cluster=cluster,
            progress=lambda n: progress.update(task, completed=n),
        )


def _print(report: AuditReport, console: Console, show: int) -> None:
    from rich.table import Table

    data = report.summary.to_dict()
    for f in report.findings[:show]:
        where = f"{f.file}:{f.line}"
        head = f"{where}  {f.ts or ''}  {f.station or ''}  {f.action or ''}  {f.message_id or ''}"
        console.print(f"[bold]{f.kind.value}[/bold] ({f.severity.value})  {head}", highlight=False)
        console.print(f"    {f.detail}", highlight=False, markup=False)
    if len(report.findings) > show:
        console.print(f"… and {len(report.findings) - show} more (use --json or --html for all)")
    if report.summary.unlisted:
        console.print(
            f"{report.summary.unlisted} more finding(s) are counted below but not listed "
            "anywhere (over --max-findings)",
            highlight=False,
        )
    summary = Table(title="Audit summary", show_header=False)
    summary.add_column("what")
    summary.add_column("count", justify="right")
    summary.add_row("frames", str(data["frames"]))
    for verdict, count in data["verdicts"].items():
        summary.add_row(f"  {verdict}", str(count))
    if data["untimedFrames"]:
        summary.add_row("  without capture time", str(data["untimedFrames"]))
    summary.add_row("unreadable lines", str(data["unreadableLines"]))
    summary.add_row("other lines (not messages)", str(data["otherLines"]))
    summary.add_row("findings", str(data["findings"]))
    for kind, count in data["byKind"].items():
        summary.add_row(f"  {kind}", str(count))
    for name, counts in data["stations"].items():
        versions = ", ".join(counts["ocpp"])
        summary.add_row(
            f"station {name}",
            f"{counts['frames']} frames, {counts['findings']} findings"
            + (f", OCPP {versions}" if versions else ""),
        )
    console.print(summary)
    for name, facts in data["inferred"].items():
        said = "; ".join(f"{what}: {text}" for what, text in facts.items())
        console.print(f"{name}: {said}", highlight=False, markup=False)
        per_station = [
            (station, counts["inferred"][name])
            for station, counts in data["stations"].items()
            if name in counts["inferred"]
        ]
        if len(per_station) > 1:  # one station: the file's line says it
            for station, known in per_station:
                said = "; ".join(f"{what}: {text}" for what, text in known.items())
                console.print(f"  station {station}: {said}", highlight=False, markup=False)
    if data["untimedFrames"]:
        console.print(
            f"{data['untimedFrames']} frame(s) have no capture time: their freshness was not "
            "judged",
            highlight=False,
        )
    verdict = "[green]PASSED[/green]" if report.summary.passed else "[red]FAILED[/red]"
    console.print(f"audit {verdict}: {data['failing']} finding(s) violate the policy")
