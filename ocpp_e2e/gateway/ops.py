"""The gateway's operations endpoint: ``GET /metrics`` (Prometheus text) and ``GET /healthz``.

It listens on its own address (``metrics.host``/``metrics.port``), apart from the stations' port,
so that it can stay inside the operator's network.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

if TYPE_CHECKING:
    from .proxy import Gateway

__all__ = [
    "ops_server",
]

_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


def _response(status: int, reason: str, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
    )
    return Response(status, reason, headers, body)


async def ops_server(gateway: Gateway, host: str, port: int) -> Server:
    """Serve /metrics and /healthz over plain HTTP (no WebSocket upgrade is ever accepted)."""

    async def process_request(connection: ServerConnection, request: Request) -> Response:
        path = request.path.split("?", 1)[0]
        if path == "/metrics":
            return _response(200, "OK", gateway.metrics.exposition(), _PROMETHEUS)
        if path == "/healthz":
            ok, report = gateway.healthy()
            body = (json.dumps(report) + "\n").encode()
            if ok:
                return _response(200, "OK", body, "application/json")
            return _response(503, "Service Unavailable", body, "application/json")
        return _response(404, "Not Found", b"not found: try /metrics or /healthz\n", "text/plain")

    async def never(connection: ServerConnection) -> None:  # every request is answered above
        await connection.close()

    return await serve(never, host, port, process_request=process_request)
