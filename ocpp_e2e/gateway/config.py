"""The gateway's configuration file: YAML or JSON, checked against a shipped JSON Schema.

Every problem is reported at once, each as ``file:line: $.json.path: reason``; relative file names
in the configuration are read relative to the configuration file's folder.

>>> from pathlib import Path
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "gw.yaml").write_text("listen: {port: 9000}\\nupstream: {url: http://csms}\\n")
>>> try:
...     load_config(folder / "gw.yaml")
... except GatewayConfigError as exc:
...     print("\\n".join(p.split("gw.yaml:")[1] for p in exc.problems))
1: $: required member 'stations' is missing
2: $.upstream.url: 'http://csms' is not a ws:// or wss:// URL
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from .._schema import load_schema, schema_problems
from ..context import identity_matches
from ..errors import InputError
from ..model import Direction, Kind
from ..policy._yaml import load_yaml
from ..versions import VERSIONS

__all__ = [
    "DEFAULT_SUBPROTOCOLS",
    "FrameLogConfig",
    "GatewayConfig",
    "GatewayConfigError",
    "Listen",
    "ReplayCacheConfig",
    "ServerTls",
    "SignOnBehalf",
    "StationGroup",
    "Upstream",
    "config_problem",
    "load_config",
    "schema",
]

#: Subprotocols a gateway relays when the configuration names none, in order of preference: every
#: version of :data:`ocpp_e2e.versions.VERSIONS`, the newest first.
DEFAULT_SUBPROTOCOLS = tuple(v.subprotocol for v in VERSIONS.values())[::-1]


class GatewayConfigError(InputError):
    """A gateway configuration that cannot be used; ``problems`` lists every defect found, each a
    one-line ``file:line: path: reason`` text."""

    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServerTls:
    """TLS of the station side: the gateway's certificate chain and key, optional client certs."""

    cert: Path
    key: Path
    client_ca: Path | None = None
    require_client_cert: bool = False


@dataclass(frozen=True)
class Listen:
    """Where stations connect: ``ws(s)://host:port<path>/<identity>``."""

    host: str = "127.0.0.1"
    port: int = 9000
    path: str = "/ocpp"
    tls: ServerTls | None = None
    #: ``none``: no credentials asked; ``verify``: HTTP Basic checked against ``key_store``;
    #: ``passthrough``: the station's Authorization header goes upstream, the CSMS decides.
    auth: str = "none"
    key_store: Path | None = None


@dataclass(frozen=True)
class Upstream:
    """The real CSMS: one connection per station to ``url/<identity>``."""

    url: str
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    #: ``none``; ``passthrough`` (the station's header); ``keys`` (the gateway's own per-station
    #: keys, a JSON file ``{"identity": "<hex AuthorizationKey>"}``).
    auth: str = "none"
    keys: Path | None = None
    connect_timeout: float = 5.0
    initial_delay: float = 0.5
    max_delay: float = 30.0


@dataclass(frozen=True)
class SignOnBehalf:
    """Sign frames of ``actions`` (None: all) and ``kinds`` going in ``direction`` with ``signer``."""

    direction: Direction
    signer: str
    actions: frozenset[str] | None = None
    kinds: frozenset[Kind] = frozenset({Kind.REQUEST})
    certificates: Path | None = None
    destination: str | None = None
    place: str = "$"

    def applies(self, action: str, kind: Kind) -> bool:
        """Whether this rule signs a frame of ``action`` and ``kind``."""
        return kind in self.kinds and (self.actions is None or action in self.actions)


@dataclass(frozen=True)
class StationGroup:
    """Stations whose identity matches one of ``identities`` (exact, or a prefix ending in ``*``,
    compared ASCII-case-insensitively) share policies and signing rules."""

    name: str
    identities: tuple[str, ...]
    policies: Mapping[Direction, Path]
    sign: tuple[SignOnBehalf, ...] = ()
    place: str = "$"

    def matches(self, identity: str) -> bool:
        return any(identity_matches(pattern, identity) for pattern in self.identities)


@dataclass(frozen=True)
class ReplayCacheConfig:
    """``memory`` (forgets on restart: enforcing verifiers then refuse signatures dated before the
    start), ``sqlite`` (one file, survives restarts) or ``redis`` (shared by several gateways)."""

    type: str = "memory"
    path: Path | None = None
    url: str | None = None
    prefix: str = "ocpp-e2e:replay:"
    timeout: float = 1.0


@dataclass(frozen=True)
class FrameLogConfig:
    """The SPEC §8 JSON Lines log of every frame, rotated by size and/or time."""

    path: Path
    max_bytes: int | None = None
    rotate_seconds: int | None = None
    queue: int = 10000


@dataclass(frozen=True)
class GatewayConfig:
    """A checked gateway configuration (see docs/gateway.md for every member)."""

    source: Path
    listen: Listen
    upstream: Upstream
    groups: tuple[StationGroup, ...]
    subprotocols: tuple[str, ...] = DEFAULT_SUBPROTOCOLS
    replay_cache: ReplayCacheConfig = ReplayCacheConfig()
    log: FrameLogConfig | None = None
    max_frame_bytes: int = 1024 * 1024
    max_connections: int = 10000
    pending_calls: int = 1024
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    drain_seconds: float = 10.0

    def group_for(self, identity: str) -> StationGroup | None:
        """The first group whose identities match, or None (the station gets HTTP 404)."""
        for group in self.groups:
            if group.matches(identity):
                return group
        return None


# --------------------------------------------------------------------------- loading


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of a gateway configuration, shipped in ``ocpp_e2e/schemas``; the
    subprotocols it accepts are those of :data:`ocpp_e2e.versions.VERSIONS`."""
    value = copy.deepcopy(load_schema("gateway-config.schema.json"))
    value["properties"]["subprotocols"]["items"] = {
        "enum": [v.subprotocol for v in VERSIONS.values()]
    }
    return value


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _schema_problems(data: Any) -> list[tuple[str, str]]:
    return schema_problems(_validator(), data, list_known=True)


class _Reader:
    """Builds the dataclasses from a schema-valid document, collecting semantic problems."""

    def __init__(self, data: dict[str, Any], base: Path) -> None:
        self.data = data
        self.base = base
        self.problems: list[tuple[str, str]] = []

    def file(self, value: str | None, place: str, *, must_exist: bool = True) -> Path | None:
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.base / path
        if must_exist and not path.is_file():
            self.problems.append((place, f"no such file: {path}"))
        return path

    def listen(self) -> Listen:
        raw = self.data.get("listen", {})
        tls = None
        if "tls" in raw:
            t = raw["tls"]
            tls = ServerTls(
                self.file(t["cert"], "$.listen.tls.cert") or Path(),
                self.file(t["key"], "$.listen.tls.key") or Path(),
                self.file(t.get("clientCa"), "$.listen.tls.clientCa"),
                bool(t.get("requireClientCert", False)),
            )
            if tls.require_client_cert and tls.client_ca is None:
                self.problems.append(
                    ("$.listen.tls.requireClientCert", "requires clientCa (the CAs to check with)")
                )
        auth = raw.get("auth", {"mode": "none"})
        store = None
        if auth["mode"] == "verify":
            if "keyStore" not in auth:
                self.problems.append(
                    ("$.listen.auth", "mode verify needs keyStore (an authorization key store)")
                )
            store = self.file(auth.get("keyStore"), "$.listen.auth.keyStore")
        elif "keyStore" in auth:
            self.problems.append(("$.listen.auth.keyStore", "used only with mode: verify"))
        return Listen(
            raw.get("host", "127.0.0.1"),
            raw.get("port", 9000),
            raw.get("path", "/ocpp"),
            tls,
            auth["mode"],
            store,
        )

    def upstream(self) -> Upstream:
        raw = self.data["upstream"]
        tls = raw.get("tls", {})
        if tls and raw["url"].startswith("ws://"):
            self.problems.append(("$.upstream.tls", "TLS settings need a wss:// upstream url"))
        if ("cert" in tls) != ("key" in tls):
            self.problems.append(("$.upstream.tls", "a client certificate needs both cert and key"))
        auth = raw.get("auth", {"mode": "none"})
        keys = None
        if auth["mode"] == "keys":
            if "keys" not in auth:
                self.problems.append(("$.upstream.auth", "mode keys needs keys (a JSON file)"))
            keys = self.file(auth.get("keys"), "$.upstream.auth.keys")
        elif "keys" in auth:
            self.problems.append(("$.upstream.auth.keys", "used only with mode: keys"))
        reconnect = raw.get("reconnect", {})
        initial = float(reconnect.get("initialDelay", 0.5))
        maximum = float(reconnect.get("maxDelay", 30.0))
        if maximum < initial:
            self.problems.append(
                ("$.upstream.reconnect.maxDelay", f"{maximum} is below initialDelay {initial}")
            )
        return Upstream(
            raw["url"],
            self.file(tls.get("ca"), "$.upstream.tls.ca"),
            self.file(tls.get("cert"), "$.upstream.tls.cert"),
            self.file(tls.get("key"), "$.upstream.tls.key"),
            auth["mode"],
            keys,
            float(raw.get("connectTimeout", 5.0)),
            initial,
            maximum,
        )

    def groups(self) -> tuple[StationGroup, ...]:
        out = []
        names: set[str] = set()
        for i, raw in enumerate(self.data["stations"]):
            place = f"$.stations[{i}]"
            if raw["group"] in names:
                self.problems.append((f"{place}.group", f"group {raw['group']!r} is defined twice"))
            names.add(raw["group"])
            for j, pattern in enumerate(raw["identities"]):
                if "*" in pattern[:-1]:
                    self.problems.append(
                        (f"{place}.identities[{j}]", "only a trailing * is a wildcard")
                    )
            policies = {}
            for name, direction in (
                ("toStation", Direction.TO_STATION),
                ("toCSMS", Direction.TO_CSMS),
            ):
                value = raw.get("policies", {}).get(name)
                path = self.file(value, f"{place}.policies.{name}")
                if path is not None:
                    policies[direction] = path
            rules = []
            for j, s in enumerate(raw.get("sign", [])):
                where = f"{place}.sign[{j}]"
                signer = s["signer"]
                if not signer.startswith("envvar:"):
                    file_part = signer[len("file:") :] if signer.startswith("file:") else signer
                    path = self.file(file_part, f"{where}.signer")
                    signer = f"file:{path}"
                rules.append(
                    SignOnBehalf(
                        Direction(s["direction"]),
                        signer,
                        frozenset(s["actions"]) if "actions" in s else None,
                        frozenset(Kind(k) for k in s.get("kinds", ["request"])),
                        self.file(s.get("certificates"), f"{where}.certificates"),
                        s.get("destination"),
                        where,
                    )
                )
            out.append(
                StationGroup(raw["group"], tuple(raw["identities"]), policies, tuple(rules), place)
            )
        return tuple(out)

    def replay(self) -> ReplayCacheConfig:
        raw = self.data.get("replayCache", {"type": "memory"})
        kind = raw["type"]
        path = None
        if kind == "sqlite":
            if "path" not in raw:
                self.problems.append(("$.replayCache", "type sqlite needs path (the SQLite file)"))
            else:
                path = self.file(raw["path"], "$.replayCache.path", must_exist=False)
                if path is not None and not path.parent.is_dir():
                    self.problems.append(("$.replayCache.path", f"no such folder: {path.parent}"))
        if kind == "redis" and "url" not in raw:
            self.problems.append(("$.replayCache", "type redis needs url (redis://host:port/db)"))
        for member, allowed in (("path", "sqlite"), ("url", "redis"), ("prefix", "redis")):
            if member in raw and kind != allowed:
                self.problems.append((f"$.replayCache.{member}", f"used only with type: {allowed}"))
        return ReplayCacheConfig(
            kind, path, raw.get("url"), raw.get("prefix", "ocpp-e2e:replay:"),
            float(raw.get("timeout", 1.0)),
        )  # fmt: skip

    def log(self) -> FrameLogConfig | None:
        raw = self.data.get("log")
        if raw is None:
            return None
        path = self.file(raw["path"], "$.log.path", must_exist=False)
        assert path is not None
        if not path.parent.is_dir():
            self.problems.append(("$.log.path", f"no such folder: {path.parent}"))
        return FrameLogConfig(
            path, raw.get("maxBytes"), raw.get("rotateSeconds"), raw.get("queue", 10000)
        )


def load_config(path: Path | str) -> GatewayConfig:
    """Read and check a gateway configuration file (YAML 1.2 or JSON).

    Raises :class:`GatewayConfigError` listing every problem as ``file:line: path: reason``.
    """
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GatewayConfigError(
            f"cannot read the configuration ({exc})", source=str(path)
        ) from None
    doc, yaml_problems = load_yaml(text)

    def fail(problems: Sequence[tuple[str, str]]) -> GatewayConfigError:
        lines = []
        for place, reason in problems:
            line = doc.line_of(place) if doc is not None else None
            lines.append(f"{path}:{line or 1}: {place}: {reason}")
        err = GatewayConfigError("\n".join(lines))
        err.problems = tuple(lines)
        return err

    if doc is None or yaml_problems:
        raise fail([(p.path, p.message) for p in yaml_problems])
    problems = _schema_problems(doc.value)
    if problems:
        raise fail(problems)
    data: dict[str, Any] = doc.value
    reader = _Reader(data, path.resolve().parent)
    listen, upstream, groups = reader.listen(), reader.upstream(), reader.groups()
    replay, log = reader.replay(), reader.log()
    if reader.problems:
        raise fail(reader.problems)
    limits = data.get("limits", {})
    metrics = data.get("metrics")
    return GatewayConfig(
        source=path,
        listen=listen,
        upstream=upstream,
        groups=groups,
        subprotocols=tuple(data.get("subprotocols", DEFAULT_SUBPROTOCOLS)),
        replay_cache=replay,
        log=log,
        max_frame_bytes=limits.get("maxFrameBytes", 1024 * 1024),
        max_connections=limits.get("maxConnections", 10000),
        pending_calls=limits.get("pendingCalls", 1024),
        metrics_host=(metrics or {}).get("host", "127.0.0.1"),
        metrics_port=None if metrics is None else metrics.get("port", 9464),
        drain_seconds=float(data.get("shutdown", {}).get("drainSeconds", 10.0)),
    )


def config_problem(config: GatewayConfig, place: str, reason: str) -> GatewayConfigError:
    """An error about one place of a loaded configuration (for checks done after loading, such
    as loading its policies and keys)."""
    text = config.source.read_text("utf-8") if config.source.is_file() else ""
    doc, _ = load_yaml(text)
    line = doc.line_of(place) if doc is not None else None
    message = f"{config.source}:{line or 1}: {place}: {reason}"
    err = GatewayConfigError(message)
    err.problems = (message,)
    return err
