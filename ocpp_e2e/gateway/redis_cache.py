"""A SPEC §4 replay cache in Redis, shared by every gateway that points at the same server.

One round trip per signature: ``SET <prefix><keyId>:<digest> 1 NX PXAT <expiry>`` both checks and
records (Redis answers nil when the key exists: a replay). Entries expire by themselves at
timestamp + maxSignatureAge + clockSkew, so the cache needs no cleaning.

Every wait is bounded by ``timeout`` (default 1 s). When Redis cannot answer in time, or at all,
:class:`ReplayCacheUnavailable` is raised and the frame is refused (fail closed): a gateway never
lets a signature through that it could not record.

``survives_restart`` is True: the entries live in Redis, not in the gateway process. Run Redis with
persistence (``appendonly yes``) so that they also survive a restart of Redis itself.

Two ways in:

* ``await cache.check_and_add_async(...)`` on the event loop (async guards);
* ``cache.check_and_add(...)`` — the synchronous interface of
  :class:`~ocpp_e2e.replay.ReplayCache` — from a worker thread: it runs the command on the
  event loop given at construction and waits for it (bounded). Calling it on that loop itself
  raises, since it would block the loop.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .._b64 import b64url_encode
from ..replay import ReplayCacheUnavailable

__all__ = [
    "RedisReplayCache",
]


class RedisReplayCache:
    """Replay protection in Redis (``SET NX`` with an absolute expiry)."""

    survives_restart = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ocpp-e2e:replay:",
        timeout: float = 1.0,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self._loop = loop
        self._client = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def _key(self, key_id: str, input_digest: bytes) -> str:
        return f"{self.prefix}{key_id}:{b64url_encode(input_digest)}"

    async def check_and_add_async(
        self, key_id: str, input_digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        """True when the signature was seen before (a replay); else record it until ``expires``."""
        expiry_ms = max(int(expires.timestamp() * 1000), int(now.timestamp() * 1000) + 1)
        try:
            async with asyncio.timeout(self.timeout):
                stored = await self._client.set(
                    self._key(key_id, input_digest), b"1", nx=True, pxat=expiry_ms
                )
        except TimeoutError:
            raise ReplayCacheUnavailable(
                f"replay cache unavailable: Redis at {self._where()} did not answer within "
                f"{self.timeout:g} s"
            ) from None
        except (RedisError, OSError) as exc:
            raise ReplayCacheUnavailable(
                f"replay cache unavailable: Redis at {self._where()}: {exc}"
            ) from None
        return stored is None

    def check_and_add(
        self, key_id: str, input_digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        """The synchronous interface, for verifiers running in a worker thread."""
        loop = self._loop
        if loop is None:
            raise ReplayCacheUnavailable(
                "replay cache unavailable: RedisReplayCache was created without an event loop"
            )
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError(
                "RedisReplayCache.check_and_add would block its own event loop; "
                "await check_and_add_async there instead"
            )
        future = asyncio.run_coroutine_threadsafe(
            self.check_and_add_async(key_id, input_digest, expires, now), loop
        )
        try:
            return future.result(self.timeout + 0.5)
        except TimeoutError:
            future.cancel()
            raise ReplayCacheUnavailable(
                f"replay cache unavailable: no answer within {self.timeout:g} s"
            ) from None

    async def ping(self) -> bool:
        """Whether Redis answers within the bound (for /healthz)."""
        try:
            async with asyncio.timeout(self.timeout):
                answer = self._client.ping()
                return bool(await answer) if not isinstance(answer, bool) else answer
        except (TimeoutError, RedisError, OSError):
            return False

    async def aclose(self) -> None:
        await self._client.aclose()

    def _where(self) -> str:
        # never show a password that the URL may carry
        kwargs = self._client.connection_pool.connection_kwargs
        if "path" in kwargs:
            return str(kwargs["path"])
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
