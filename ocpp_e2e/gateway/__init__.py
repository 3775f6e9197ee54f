"""An OCPP security gateway: a WebSocket proxy between stations and any CSMS that verifies,
decides, signs on behalf and logs every frame (``ocpp-e2e gateway --config gateway.yaml``).

See docs/gateway.md. The pieces: :mod:`.config` (the configuration file), :mod:`.enforce` (what
happens to one frame), :mod:`.proxy` (connections, upstream reconnection, shutdown),
:mod:`.framelog` (the SPEC §8 log), :mod:`.metrics` and :mod:`.ops` (Prometheus, /healthz),
:mod:`.redis_cache` (a replay cache shared by several gateways).
"""

from .config import GatewayConfig, GatewayConfigError, load_config
from .enforce import Outcome, RuleSet, StationGuard, build_rules
from .proxy import Gateway

__all__ = [
    "Gateway",
    "GatewayConfig",
    "GatewayConfigError",
    "Outcome",
    "RuleSet",
    "StationGuard",
    "build_rules",
    "load_config",
]
