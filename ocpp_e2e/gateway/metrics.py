"""Prometheus metrics of the gateway (``prometheus-client``), in a registry of its own.

| metric | type | labels |
|---|---|---|
| ``ocpp_e2e_gateway_frames_total`` | counter | ``direction``, ``action`` (forwarded, signed, refused, replaced, dropped, unavailable) |
| ``ocpp_e2e_gateway_decisions_total`` | counter | ``direction``, ``rule``, ``effect``, ``mode`` |
| ``ocpp_e2e_gateway_verify_seconds`` | histogram | ``direction`` |
| ``ocpp_e2e_gateway_forward_seconds`` | histogram | ``direction`` |
| ``ocpp_e2e_gateway_connections`` | gauge | |
| ``ocpp_e2e_gateway_upstream_connected`` | gauge | |
| ``ocpp_e2e_gateway_upstream_reconnects_total`` | counter | |
| ``ocpp_e2e_gateway_admissions_total`` | counter | ``status`` (HTTP status of the upgrade request) |
| ``ocpp_e2e_gateway_policy_reloads_total`` | counter | ``result`` (ok, failed) |
| ``ocpp_e2e_gateway_gc_pause_seconds`` | histogram | ``generation`` (0, 1, 2: CPython's garbage collections, while the gateway manages them) |
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = [
    "GatewayMetrics",
]

# Latency buckets from 50 µs to 1 s: verification takes a fraction of a millisecond, a forward a
# little more; the targets (added p99 ≤ 5 ms) sit in the middle.
_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip


class GatewayMetrics:
    """Every metric of one gateway; :meth:`exposition` is the text ``/metrics`` serves."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.frames = Counter(
            "ocpp_e2e_gateway_frames",
            "Frames received, by direction and what the gateway did with them.",
            ["direction", "action"],
            registry=r,
        )
        self.decisions = Counter(
            "ocpp_e2e_gateway_decisions",
            "Policy decisions, by direction, deciding rule and effect.",
            ["direction", "rule", "effect", "mode"],
            registry=r,
        )
        self.verify_seconds = Histogram(
            "ocpp_e2e_gateway_verify_seconds",
            "Time to verify and decide one frame.",
            ["direction"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.forward_seconds = Histogram(
            "ocpp_e2e_gateway_forward_seconds",
            "Time from receiving a frame to having sent it on (or the answer back).",
            ["direction"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.connections = Gauge(
            "ocpp_e2e_gateway_connections", "Open station connections.", registry=r
        )
        self.upstream_connected = Gauge(
            "ocpp_e2e_gateway_upstream_connected",
            "Station connections whose upstream connection is open.",
            registry=r,
        )
        self.reconnects = Counter(
            "ocpp_e2e_gateway_upstream_reconnects",
            "Upstream connections opened again after the CSMS connection was lost.",
            registry=r,
        )
        self.admissions = Counter(
            "ocpp_e2e_gateway_admissions",
            "WebSocket upgrade requests, by the HTTP status answered.",
            ["status"],
            registry=r,
        )
        self.reloads = Counter(
            "ocpp_e2e_gateway_policy_reloads",
            "Policy reloads (SIGHUP or signed upgrade), by result.",
            ["result"],
            registry=r,
        )

        self.gc_pause_seconds = Histogram(
            "ocpp_e2e_gateway_gc_pause_seconds",
            "Garbage collection pauses (the event loop stops meanwhile), by generation.",
            ["generation"],
            buckets=_BUCKETS,
            registry=r,
        )

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
