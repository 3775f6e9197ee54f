"""The gateway's WebSocket proxy: stations connect to it as to a CSMS, it connects to the CSMS.

For each station connection ``/<prefix>/<identity>`` the gateway

1. answers 404 (unknown identity: no station group matches) or 401 (HTTP Basic, when it verifies
   credentials) *before* the upgrade, as a CSMS does (OCPP-J 1.6 §3.2, §6.2.2);
2. opens one upstream connection to ``<upstream url>/<identity>`` offering exactly the subprotocols
   the station offered (those the configuration allows), and answers the station with the one the
   CSMS chose; a CSMS that answers 401/404 makes the gateway answer the station the same;
3. relays frames both ways through a :class:`~ocpp_e2e.gateway.enforce.StationGuard`: byte for
   byte unless a frame is signed on behalf or refused;
4. when the CSMS connection is lost, keeps the station connected, answers its CALLs with
   ``InternalError`` and reconnects with exponential backoff (with jitter).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import random
import re
import ssl
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from ..errors import OcppE2EError
from ..integrations.clock import system_clock
from ..integrations.connection import (
    SUBPROTOCOLS,
    AuthorizationKeyStore,
    admit,
    basic_auth_header,
    connection_url,
    parse_authorization_key,
)
from ..model import Direction
from ..replay import MemoryReplayCache, ReplayCache, SQLiteReplayCache
from .collector import Collector
from .config import GatewayConfig, config_problem, load_config
from .enforce import Outcome, RuleSet, StationGuard, build_rules, internal_error
from .framelog import FrameLog, rfc3339
from .metrics import GatewayMetrics

__all__ = [
    "Gateway",
    "Session",
    "load_upstream_keys",
    "server_ssl_context",
    "upstream_ssl_context",
]

LOGGER = logging.getLogger("ocpp_e2e.gateway")

# The type and id of a frame, read without parsing it (for frames nothing checks).
_HEAD = re.compile(r'\s*\[\s*([2-6])\s*,\s*"([^"\\]{1,36})"')

#: Close codes after which the gateway reconnects upstream; after others (1000 normal closure,
#: 1008 policy violation: the CSMS ended this station's session on purpose) it closes the station
#: connection with the same code.
_MIRRORED_CLOSE = frozenset({1000, 1008})


def _head(text: str) -> tuple[int, str] | None:
    found = _HEAD.match(text)
    return (int(found.group(1)), found.group(2)) if found else None


def server_ssl_context(config: GatewayConfig) -> ssl.SSLContext | None:
    """TLS for the station side: the gateway's chain and key; client certificates if configured."""
    tls = config.listen.tls
    if tls is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(tls.cert, tls.key)
    if tls.client_ca is not None:
        ctx.load_verify_locations(cafile=tls.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if tls.require_client_cert else ssl.CERT_OPTIONAL
    return ctx


def upstream_ssl_context(config: GatewayConfig) -> ssl.SSLContext | None:
    """TLS for the CSMS side: the CA bundle to trust and the gateway's client certificate."""
    up = config.upstream
    if not up.url.startswith("wss://"):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=up.ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if up.cert is not None and up.key is not None:
        ctx.load_cert_chain(up.cert, up.key)
    return ctx


def load_upstream_keys(path: Path) -> dict[str, bytes]:
    """The gateway's own per-station keys for upstream Basic auth: ``{"identity": "<hex>"}``."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise OcppE2EError(f"{path}: cannot read the upstream keys ({exc})") from None
    if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
        raise OcppE2EError(f'{path}: expected {{"identity": "<hex AuthorizationKey>", ...}}')
    out = {}
    for identity, value in doc.items():
        try:
            out[identity] = parse_authorization_key(value)
        except OcppE2EError as exc:
            raise OcppE2EError(f"{path}: {identity}: {exc}") from None
    return out


@dataclass
class _Handshake:
    identity: str
    group: str
    upstream: ClientConnection | None
    subprotocol: str | None
    authorization: str | None
    started: float


class Gateway:
    """One gateway process: the station-side server, upstream connections, log, metrics.

    ``manage_gc``: keep CPython's full garbage collections off the frame path
    (:class:`~ocpp_e2e.gateway.collector.Collector`: long-lived objects are frozen at start and
    after stations connect). It changes process-wide state (:func:`gc.freeze`), so it is off
    unless asked for; ``ocpp-e2e gateway`` asks for it.
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        metrics: GatewayMetrics | None = None,
        manage_gc: bool = False,
    ) -> None:
        self.config = config
        self.metrics = metrics or GatewayMetrics()
        pauses = self.metrics.gc_pause_seconds
        self.collector: Collector | None = (
            Collector(
                on_pause=lambda generation, seconds: pauses.labels(str(generation)).observe(seconds)
            )
            if manage_gc
            else None
        )
        self.sessions: set[Session] = set()
        self.draining = False
        self.started = system_clock()
        self.replay_cache: ReplayCache = MemoryReplayCache()
        self.rules: RuleSet = RuleSet({})
        self.keys: AuthorizationKeyStore | None = None
        self.upstream_keys: dict[str, bytes] = {}
        self.frame_log: FrameLog | None = None
        self.server: Server | None = None
        self.ops: Server | None = None
        self._handshakes: dict[ServerConnection, _Handshake] = {}
        self._server_ssl = server_ssl_context(config)
        self._upstream_ssl = upstream_ssl_context(config)
        self._closers: list[Any] = []
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the replay cache, load policies and keys, and start listening."""
        cfg = self.config
        self.replay_cache = await self._open_replay_cache()
        self.rules = build_rules(cfg, self.replay_cache)
        if cfg.listen.auth == "verify" and cfg.listen.key_store is not None:
            self.keys = await asyncio.to_thread(AuthorizationKeyStore.load, cfg.listen.key_store)
        if cfg.upstream.auth == "keys" and cfg.upstream.keys is not None:
            try:
                self.upstream_keys = load_upstream_keys(cfg.upstream.keys)
            except OcppE2EError as exc:
                raise config_problem(cfg, "$.upstream.auth.keys", str(exc)) from None
        if cfg.log is not None:
            self.frame_log = FrameLog(cfg.log)
        self.server = await serve(
            self._handler,
            cfg.listen.host,
            cfg.listen.port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            ssl=self._server_ssl,
            max_size=2 * cfg.max_frame_bytes,
            compression=None,
        )
        if cfg.metrics_port is not None:
            from .ops import ops_server

            self.ops = await ops_server(self, cfg.metrics_host, cfg.metrics_port)
        if self.collector is not None:
            self.collector.start()
        LOGGER.info(
            "gateway listening",
            extra={"event": "listening", "port": self.port, "upstream": cfg.upstream.url},
        )

    async def _open_replay_cache(self) -> ReplayCache:
        rc = self.config.replay_cache
        if rc.type == "sqlite":
            assert rc.path is not None
            cache = await asyncio.to_thread(SQLiteReplayCache, rc.path)
            self._closers.append(cache.close)
            return cache
        if rc.type == "redis":
            from .redis_cache import RedisReplayCache

            assert rc.url is not None
            redis_cache = RedisReplayCache(
                rc.url, prefix=rc.prefix, timeout=rc.timeout, loop=asyncio.get_running_loop()
            )
            self._closers.append(redis_cache.aclose)
            return redis_cache
        return MemoryReplayCache()

    @property
    def port(self) -> int:
        """The port stations connect to (useful when the configuration asked for port 0)."""
        assert self.server is not None
        sock = next(iter(self.server.sockets))
        return int(sock.getsockname()[1])

    @property
    def ops_port(self) -> int | None:
        if self.ops is None:
            return None
        return int(next(iter(self.ops.sockets)).getsockname()[1])

    async def serve_forever(self) -> None:
        assert self.server is not None
        await self.server.serve_forever()

    async def stop(self) -> None:
        """Graceful shutdown: refuse new stations (503), let open CALLs be answered for up to
        ``shutdown.drainSeconds``, then close every connection with 1001 (going away)."""
        if self._stopped:
            return
        self._stopped = True
        self.draining = True
        if self.server is not None:
            self.server.close(close_connections=False)
        deadline = time.monotonic() + self.config.drain_seconds
        while any(s.busy for s in self.sessions) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.gather(
            *(s.close(1001, "gateway shutting down") for s in list(self.sessions)),
            return_exceptions=True,
        )
        if self.server is not None:
            await self.server.wait_closed()
        for handshake in list(self._handshakes.values()):
            if handshake.upstream is not None:
                await handshake.upstream.close()
        self._handshakes.clear()
        if self.frame_log is not None:
            await self.frame_log.close()
        for closer in self._closers:
            result = closer()
            if asyncio.iscoroutine(result):
                await result
        if self.ops is not None:
            self.ops.close()
            await self.ops.wait_closed()
        if self.collector is not None:
            self.collector.stop()
        LOGGER.info("gateway stopped", extra={"event": "stopped"})

    async def reload(self) -> bool:
        """Load the policies and signers again (SIGHUP) and swap them in at once; on any error the
        rules in force stay and the error is logged. Connections are not dropped."""
        try:
            config = await asyncio.to_thread(load_config, self.config.source)
            rules = await asyncio.to_thread(
                build_rules, config, self.replay_cache, previous=self.rules
            )
        except OcppE2EError as exc:
            self.metrics.reloads.labels("failed").inc()
            LOGGER.error("policy reload failed, the rules in force stay: %s", exc,
                         extra={"event": "reload-failed"})  # fmt: skip
            return False
        if (config.listen, config.upstream) != (self.config.listen, self.config.upstream):
            LOGGER.warning("listen/upstream settings changed: they take effect after a restart")
        self.rules = rules
        self.metrics.reloads.labels("ok").inc()
        LOGGER.info("policies reloaded", extra={"event": "reloaded", "policies": rules.describe()})
        return True

    def install_rules(self, rules: RuleSet) -> None:
        """Swap in a new rule set (a signed policy upgrade); connections keep running."""
        self.rules = rules
        self.metrics.reloads.labels("ok").inc()

    # ------------------------------------------------------------------ handshake

    def _upstream_headers(self, identity: str, authorization: str | None) -> dict[str, str]:
        mode = self.config.upstream.auth
        if mode == "passthrough" and authorization is not None:
            return {"Authorization": authorization}
        if mode == "keys":
            key = self.upstream_keys.get(identity)
            if key is not None:
                return {"Authorization": basic_auth_header(identity, key)}
        return {}

    async def connect_upstream(
        self, identity: str, subprotocols: Sequence[str], authorization: str | None
    ) -> ClientConnection:
        """Open the CSMS connection of one station (raises websockets/OS errors)."""
        up = self.config.upstream
        return await connect(
            connection_url(up.url, identity),
            subprotocols=[cast(Subprotocol, p) for p in subprotocols],
            additional_headers=self._upstream_headers(identity, authorization),
            ssl=self._upstream_ssl,
            open_timeout=up.connect_timeout,
            max_size=2 * self.config.max_frame_bytes,
            compression=None,
        )

    def _respond(self, connection: ServerConnection, status: int, reason: str) -> Response:
        self.metrics.admissions.labels(str(status)).inc()
        response = connection.respond(status, reason + "\n")
        if status == http.HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
        if status == http.HTTPStatus.SERVICE_UNAVAILABLE:
            response.headers["Retry-After"] = "5"
        return response

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        cfg = self.config
        if self.draining:
            return self._respond(connection, 503, "the gateway is shutting down")
        if len(self.sessions) + len(self._handshakes) >= cfg.max_connections:
            return self._respond(connection, 503, "the gateway is at its connection limit")
        authorization = request.headers.get("Authorization")
        admission = await asyncio.to_thread(
            admit,
            request.path,
            authorization,
            prefix=cfg.listen.path,
            is_known=lambda ident: cfg.group_for(ident) is not None,
            keys=self.keys if cfg.listen.auth == "verify" else None,
        )
        if admission.status != http.HTTPStatus.SWITCHING_PROTOCOLS or admission.identity is None:
            LOGGER.info("station refused: %s", admission.reason,
                        extra={"event": "refused", "status": admission.status})  # fmt: skip
            return self._respond(connection, admission.status, admission.reason)
        identity = admission.identity
        group = cfg.group_for(identity)
        assert group is not None
        offered = [
            p.strip()
            for header in request.headers.get_all("Sec-WebSocket-Protocol")
            for p in header.split(",")
            if p.strip()
        ]
        wanted = [p for p in offered if p in cfg.subprotocols]
        handshake = _Handshake(identity, group.name, None, None, authorization, time.monotonic())
        if wanted:
            passthrough = cfg.upstream.auth == "passthrough"
            try:
                upstream = await self.connect_upstream(
                    identity, wanted, authorization if passthrough else None
                )
            except InvalidStatus as exc:
                status = exc.response.status_code
                mirrored = status if status in (401, 403, 404) else 502
                reason = f"the CSMS answered HTTP {status}"
                LOGGER.info("station %s: %s", identity, reason, extra={"event": "upstream-refused"})
                return self._respond(connection, mirrored, reason)
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                LOGGER.warning("station %s: CSMS unreachable: %s", identity, exc,
                               extra={"event": "upstream-unavailable"})  # fmt: skip
                return self._respond(connection, 503, "the CSMS is unreachable, retry later")
            handshake.upstream = upstream
            handshake.subprotocol = upstream.subprotocol
            if upstream.subprotocol is None:
                await upstream.close()
                handshake.upstream = None
        self._handshakes[connection] = handshake
        asyncio.get_running_loop().call_later(
            cfg.upstream.connect_timeout + 10, self._reap, connection
        )
        self.metrics.admissions.labels("101").inc()
        return None

    def _reap(self, connection: ServerConnection) -> None:
        """An upgrade that never reached the handler (the station went away mid-handshake)."""
        handshake = self._handshakes.pop(connection, None)
        if handshake is not None and handshake.upstream is not None:
            asyncio.get_running_loop().create_task(handshake.upstream.close())

    def _select_subprotocol(
        self, connection: ServerConnection, subprotocols: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        handshake = self._handshakes.get(connection)
        if handshake is None or handshake.subprotocol not in subprotocols:
            return None
        return cast(Subprotocol, handshake.subprotocol)

    async def _handler(self, connection: ServerConnection) -> None:
        handshake = self._handshakes.pop(connection, None)
        if handshake is None or handshake.upstream is None or connection.subprotocol is None:
            # OCPP-J 1.6 §3.2: no common subprotocol, the handshake completed without one; close.
            if handshake is not None and handshake.upstream is not None:
                await handshake.upstream.close()
            await connection.close(1002, "no common OCPP subprotocol")
            return
        session = Session(self, connection, handshake)
        self.sessions.add(session)
        self.metrics.connections.inc()
        if self.collector is not None:
            self.collector.opened()
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            self.metrics.connections.dec()
            if self.collector is not None:
                self.collector.closed()

    # ------------------------------------------------------------------ logging

    async def log_frame(
        self, session: Session, direction: Direction, text: str, record: dict[str, Any], ts: float
    ) -> None:
        if self.frame_log is None:
            return
        await self.frame_log.write(
            {
                "ts": rfc3339(ts),
                "station": session.identity,
                "direction": direction.value,
                "ocpp": session.ocpp,
                "frame": text,
                "gateway": record,
            }
        )

    def healthy(self) -> tuple[bool, dict[str, Any]]:
        """What /healthz reports: serving, connection counts, log errors, policies in force."""
        log_error = self.frame_log.error if self.frame_log is not None else None
        ok = not self.draining and self.server is not None and log_error is None
        return ok, {
            "status": "ok" if ok else ("draining" if self.draining else "degraded"),
            "connections": len(self.sessions),
            "upstreamConnected": sum(1 for s in self.sessions if s.upstream is not None),
            "replayCache": self.config.replay_cache.type,
            "frameLogError": str(log_error) if log_error is not None else None,
            "policies": self.rules.describe(),
        }


class Session:
    """One station connection and its upstream connection."""

    def __init__(self, gateway: Gateway, station: ServerConnection, handshake: _Handshake) -> None:
        self.gateway = gateway
        self.station = station
        self.identity = handshake.identity
        self.group = handshake.group
        self.subprotocol = handshake.subprotocol or ""
        self.ocpp = SUBPROTOCOLS[self.subprotocol]
        self.authorization = handshake.authorization
        self.upstream: ClientConnection | None = handshake.upstream
        cfg = gateway.config
        self.guard = StationGuard(self.identity, self.ocpp, self.group, lambda: gateway.rules)
        self._limit = cfg.pending_calls
        # CALLs sent on upstream that the CSMS has not answered yet (answered with InternalError
        # if the CSMS connection is lost), and CALLs of the CSMS by the upstream connection they
        # came on (answers to an earlier connection's CALLs are dropped).
        self._station_calls: OrderedDict[str, None] = OrderedDict()
        self._csms_calls: OrderedDict[str, int] = OrderedDict()
        self._epoch = 0
        self._closing = False
        self._send_lock = asyncio.Lock()

    @property
    def busy(self) -> bool:
        """Whether CALLs are waiting for an answer (graceful shutdown waits for them)."""
        return bool(self._station_calls) or any(e == self._epoch for e in self._csms_calls.values())

    async def run(self) -> None:
        metrics = self.gateway.metrics
        metrics.upstream_connected.inc()
        LOGGER.info("station connected", extra={"event": "connected", "station": self.identity,
                                                 "subprotocol": self.subprotocol})  # fmt: skip
        upstream_task = asyncio.create_task(self._upstream_loop())
        try:
            while True:
                message = await self.station.recv()
                await self._from_station(message)
        except ConnectionClosed:
            pass
        finally:
            self._closing = True
            upstream_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upstream_task
            code = self.station.close_code
            if self.upstream is not None:
                metrics.upstream_connected.dec()
                await self.upstream.close(
                    code if code in (1000, 1001) else 1000, "station disconnected"
                )
                self.upstream = None
            LOGGER.info("station disconnected", extra={"event": "disconnected",
                        "station": self.identity, "code": code})  # fmt: skip

    async def close(self, code: int, reason: str) -> None:
        """Close both connections (graceful shutdown)."""
        self._closing = True
        if self.upstream is not None:
            await self.upstream.close(code, reason)
        await self.station.close(code, reason)

    # -- station -> CSMS

    async def _from_station(self, message: str | bytes) -> None:
        received = time.perf_counter()
        ts = time.time()
        direction = Direction.TO_CSMS
        if isinstance(message, bytes):
            await self._binary(direction, message, ts)
            return
        outcome = await self.guard.handle(direction, message)
        record = outcome.record
        if outcome.answer is not None:
            await self._send_station(outcome.answer)
        if outcome.forward is not None:
            head = _head(outcome.forward)
            upstream = self.upstream
            if upstream is None:
                record = {**record, "action": "unavailable"}
                if head is not None and head[0] == 2:
                    answer = internal_error(head[1], "the CSMS is unreachable; retry later")
                    record["answer"] = answer
                    await self._send_station(answer)
            else:
                if head is not None:
                    if head[0] == 2:
                        self._remember(self._station_calls, head[1], None)
                    elif head[0] in (3, 4):
                        epoch = self._csms_calls.pop(head[1], self._epoch)
                        if epoch != self._epoch:  # answers a CALL of a lost connection
                            record = {**record, "action": "dropped", "stale": True}
                            await self._finish(direction, message, record, outcome, received, ts)
                            return
                with contextlib.suppress(ConnectionClosed):
                    await upstream.send(outcome.forward)
        await self._finish(direction, message, record, outcome, received, ts)

    # -- CSMS -> station

    async def _from_csms(self, message: str | bytes) -> None:
        received = time.perf_counter()
        ts = time.time()
        direction = Direction.TO_STATION
        if isinstance(message, bytes):
            await self._binary(direction, message, ts)
            return
        outcome = await self.guard.handle(direction, message)
        if outcome.answer is not None and self.upstream is not None:
            with contextlib.suppress(ConnectionClosed):
                await self.upstream.send(outcome.answer)
        if outcome.forward is not None:
            head = _head(outcome.forward)
            if head is not None:
                if head[0] == 2:
                    self._remember(self._csms_calls, head[1], self._epoch)
                elif head[0] in (3, 4):
                    self._station_calls.pop(head[1], None)
            await self._send_station(outcome.forward)
        await self._finish(direction, message, outcome.record, outcome, received, ts)

    async def _send_station(self, text: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.station.send(text)

    def _remember(self, table: OrderedDict[str, Any], key: str, value: Any) -> None:
        table.pop(key, None)
        table[key] = value
        if len(table) > self._limit:
            table.popitem(last=False)

    async def _finish(
        self,
        direction: Direction,
        text: str,
        record: dict[str, Any],
        outcome: Outcome,
        received: float,
        ts: float,
    ) -> None:
        metrics = self.gateway.metrics
        d = direction.value
        metrics.frames.labels(d, record.get("action", "forwarded")).inc()
        decision = outcome.decision
        if decision is not None:
            metrics.decisions.labels(
                d, decision.rule or "(default)", decision.effect.value, decision.mode.value
            ).inc()
            metrics.verify_seconds.labels(d).observe(outcome.verify_seconds)
        metrics.forward_seconds.labels(d).observe(time.perf_counter() - received)
        await self.gateway.log_frame(self, direction, text, record, ts)

    async def _binary(self, direction: Direction, message: bytes, ts: float) -> None:
        # OCPP-J frames are text; a binary frame is passed on only where nothing is enforced.
        rules = self.gateway.rules
        if not rules.rules(self.group, direction).checked:
            target = self.upstream if direction is Direction.TO_CSMS else self.station
            if target is not None:
                with contextlib.suppress(ConnectionClosed):
                    await target.send(message)
            action = "forwarded"
        else:
            action = "dropped"
        self.gateway.metrics.frames.labels(direction.value, action).inc()
        LOGGER.warning("%s: binary frame %s (%d bytes)", self.identity, action, len(message))

    # -- upstream connection and reconnection

    async def _upstream_loop(self) -> None:
        gateway = self.gateway
        metrics = gateway.metrics
        while not self._closing:
            upstream = self.upstream
            if upstream is None:
                return
            try:
                while True:
                    await self._from_csms(await upstream.recv())
            except ConnectionClosed:
                pass
            if self._closing:
                return
            code = upstream.close_code
            self.upstream = None
            metrics.upstream_connected.dec()
            await self._fail_waiting_calls()
            if code in _MIRRORED_CLOSE or gateway.draining:
                LOGGER.info("%s: the CSMS closed the connection (%s); closing the station's",
                            self.identity, code, extra={"event": "upstream-closed"})  # fmt: skip
                await self.station.close(code or 1000, "the CSMS closed the connection")
                return
            LOGGER.warning("%s: CSMS connection lost (code %s); reconnecting", self.identity,
                           code, extra={"event": "upstream-lost"})  # fmt: skip
            if not await self._reconnect():
                return

    async def _fail_waiting_calls(self) -> None:
        self._epoch += 1
        waiting = list(self._station_calls)
        self._station_calls.clear()
        for message_id in waiting:
            await self._send_station(
                internal_error(message_id, "the CSMS connection was lost before it answered")
            )

    async def _reconnect(self) -> bool:
        up = self.gateway.config.upstream
        delay = up.initial_delay
        while not self._closing and not self.gateway.draining:
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter only
            try:
                upstream = await self.gateway.connect_upstream(
                    self.identity,
                    [self.subprotocol],
                    self.authorization if up.auth == "passthrough" else None,
                )
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403, 404):
                    await self.station.close(1008, f"the CSMS refused the station: HTTP {status}")
                    return False
                delay = min(delay * 2, up.max_delay)
                continue
            except (OSError, TimeoutError, InvalidHandshake):
                delay = min(delay * 2, up.max_delay)
                continue
            if upstream.subprotocol != self.subprotocol:
                await upstream.close()
                await self.station.close(1002, "the CSMS no longer accepts this OCPP version")
                return False
            if self._closing:
                await upstream.close()
                return False
            self.upstream = upstream
            self.gateway.metrics.reconnects.inc()
            self.gateway.metrics.upstream_connected.inc()
            LOGGER.info("%s: CSMS connection restored", self.identity,
                        extra={"event": "upstream-restored"})  # fmt: skip
            return True
        return False
