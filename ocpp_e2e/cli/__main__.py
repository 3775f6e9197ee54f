"""``python -m ocpp_e2e.cli``: the ``ocpp-e2e`` command (``python -X importtime -m ocpp_e2e.cli``
shows what a start imports)."""

from . import app

app(prog_name="ocpp-e2e")
