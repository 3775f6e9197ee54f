"""Exception types of ocpp-e2e.

Every error a user can cause is an :class:`OcppE2EError`; its message names the place (file, line,
JSON path) and the problem, so that the CLI can print it on one line without a traceback.
"""

from __future__ import annotations

__all__ = [
    "ConnectionSetupError",
    "FrameError",
    "IJSONError",
    "InputError",
    "KeyLoadError",
    "LedgerError",
    "MeterRecordError",
    "OcppE2EError",
    "PKIError",
    "PolicyError",
    "PolicyUpgradeError",
    "RefusedError",
    "SigningError",
    "TariffError",
    "TicketError",
]


class OcppE2EError(Exception):
    """Base class of every error raised on purpose by ocpp-e2e."""


class InputError(OcppE2EError, ValueError):
    """Input that cannot be used: not I-JSON, not an OCPP-J frame, a broken file.

    ``where`` is a JSON path (``$.a[0].b``) or a file/line reference; ``reason`` says what is wrong.
    """

    def __init__(self, reason: str, where: str | None = None, *, source: str | None = None) -> None:
        self.reason = reason
        self.where = where
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.source:
            parts.append(self.source)
        if self.where:
            parts.append(self.where)
        prefix = ": ".join(parts)
        return f"{prefix}: {self.reason}" if prefix else self.reason

    def with_source(self, source: str) -> InputError:
        """Return a copy of this error that names ``source`` (a file name) first."""
        err = type(self).__new__(type(self))
        InputError.__init__(err, self.reason, self.where, source=source)
        return err


class IJSONError(InputError):
    """The bytes are not I-JSON as SPEC §2 requires (duplicate member, lone surrogate, ...)."""


class FrameError(InputError):
    """A JSON value that is not a valid OCPP-J frame."""


class MeterRecordError(InputError):
    """An OCMF signed meter record that cannot be parsed (sections, JSON, signature members)."""


class TariffError(InputError):
    """A tariff, session record or cost receipt that cannot be used (SPEC §6).

    Not valid against the OCPP 2.1 ``TariffType``, an unknown currency, a session record with
    readings out of order; ``where`` is the JSON path of the problem.
    """


class TicketError(InputError):
    """A charging ticket or ticket presentation that cannot be read (SPEC §6): an unknown member,
    a wrong type, a bad holder key; ``where`` is the JSON path of the problem."""


class LedgerError(OcppE2EError):
    """A station's ticket ledger that cannot be opened, read or written (SQLite file)."""


class PolicyError(InputError):
    """A signature policy that cannot be loaded (SPEC §7).

    ``problems`` lists every defect found, each a one-line ``place: reason`` text: loading never
    stops at the first one, so one run of ``policy lint`` shows them all.
    """

    problems: tuple[str, ...] = ()


class PolicyUpgradeError(OcppE2EError):
    """A new policy version was refused (SPEC §7 updates); the message says why."""


class ConnectionSetupError(InputError):
    """An OCPP-J connection detail that cannot be used: a connection URL or path, an HTTP Basic
    ``Authorization`` header, an ``AuthorizationKey`` or a subprotocol name (OCPP-J 1.6 §3, §6)."""


class RefusedError(OcppE2EError):
    """A signed message was refused by the signature policy; the message names the rule and why."""


class KeyLoadError(OcppE2EError):
    """A key that cannot be loaded or used (wrong type, wrong password, unsupported curve)."""


class SigningError(OcppE2EError):
    """Signing was refused (e.g. a signer without the usage the structure needs)."""


class PKIError(OcppE2EError):
    """A certificate authority refused an operation, or a certificate/CA file cannot be used."""
