"""``ocpp-e2e gateway --config gateway.yaml``: run the OCPP security gateway (docs/gateway.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import OcppE2EError
from ._io import fail

__all__ = [
    "JsonFormatter",
    "gateway",
    "loop_factory",
    "register",
]

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: ts, level, logger, message and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def _setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = __import__("time").gmtime
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # the websockets library logs every failed handshake at length; keep its warnings only
    logging.getLogger("websockets").setLevel(logging.WARNING)


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop ``--loop`` asks for: ``asyncio`` (the standard one), ``uvloop`` (the extra
    ``uvloop``; an error when it is not installed) or ``auto`` (uvloop when installed)."""
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if name == "uvloop":
            fail("--loop uvloop: uvloop is not installed (pip install 'ocpp-e2e[uvloop]')")
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def _run(config_path: Path) -> None:
    from ..gateway import Gateway, load_config

    gateway = Gateway(load_config(config_path), manage_gc=True)
    await gateway.start()
    metrics = gateway.ops_port if gateway.ops_port is not None else "none"
    loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
    print(
        f"ocpp-e2e gateway: listening on port {gateway.port}; metrics on port {metrics}; "
        f"event loop {loop_name}",
        file=sys.stderr,
        flush=True,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reloads: set[asyncio.Task[bool]] = set()

    def reload() -> None:
        task = loop.create_task(gateway.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await gateway.stop()


def gateway(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="Gateway configuration file (YAML or JSON).")
    ],
    check: Annotated[
        bool,
        typer.Option("--check", help="Check the configuration, its policies and keys; then exit."),
    ] = False,
    log_format: Annotated[
        str, typer.Option("--log-format", help="Log lines on stderr: json or text.")
    ] = "json",
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning, error.")
    ] = "info",
    loop: Annotated[
        str,
        typer.Option(
            "--loop",
            help="Event loop: auto (uvloop when installed), uvloop or asyncio (the standard one).",
        ),
    ] = "auto",
) -> None:
    """Run the OCPP security gateway: a WebSocket proxy in front of a CSMS that verifies, decides,
    signs on behalf and logs every frame (see docs/gateway.md). SIGHUP reloads the policies;
    SIGTERM drains and stops."""
    if log_format not in ("json", "text"):
        fail(f"--log-format must be json or text, not {log_format!r}")
    if log_level.lower() not in ("debug", "info", "warning", "error"):
        fail(f"--log-level must be debug, info, warning or error, not {log_level!r}")
    if loop not in ("auto", "uvloop", "asyncio"):
        fail(f"--loop must be auto, uvloop or asyncio, not {loop!r}")
    factory = loop_factory(loop)
    from ..gateway import build_rules, load_config
    from ..replay import MemoryReplayCache

    try:
        loaded = load_config(config)
        if check:
            rules = build_rules(loaded, MemoryReplayCache())
            typer.echo(f"{config}: ok")
            for entry in rules.describe():
                typer.echo(
                    f"  group {entry['group']} {entry['direction']}: policy {entry['policy']} "
                    f"v{entry['version']} ({entry['mode']})"
                )
            return
    except OcppE2EError as exc:
        fail(str(exc))
    _setup_logging(log_format, log_level)
    try:
        with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=factory) as runner:
            runner.run(_run(config))
    except OcppE2EError as exc:
        fail(str(exc))
    except OSError as exc:  # the port is taken, a TLS file cannot be read
        fail(f"{config}: cannot start the gateway: {exc}")


def register(app: typer.Typer) -> None:
    app.command("gateway")(gateway)
