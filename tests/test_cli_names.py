"""One command-line name per idea (issue 13): ``--certificates``, ``--trust-anchor``,
``--station``. The old spellings (``--chain``, ``--cert``, ``--anchor``, ``--station-id``) are
hidden from ``--help`` and still work for one release, with a warning; both at once is an error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocpp_e2e.cli import app

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "keys-example"
TARIFF = ROOT / "tests" / "data" / "tariffs" / "per-minute.tariff.json"
SESSION = ROOT / "tests" / "data" / "tariffs" / "session-39min.json"
POLICY = ROOT / "policies" / "policy-admin-quorum.yaml"
runner = CliRunner()

#: (command, canonical name, old spelling)
RENAMED = [
    (["policy", "sign"], "--certificates", "--chain"),
    (["tariff", "sign"], "--certificates", "--cert"),
    (["tariff", "receipt"], "--certificates", "--cert"),
    (["ticket", "issue"], "--certificates", "--chain"),
    (["ticket", "challenge"], "--station", "--station-id"),
    (["ticket", "present"], "--station", "--station-id"),
    (["ticket", "verify"], "--station", "--station-id"),
    (["pki", "verify"], "--trust-anchor", "--anchor"),
]


def _named(text: str, option: str) -> bool:
    return re.search(re.escape(option) + r"(?![\w-])", text) is not None


@pytest.mark.parametrize(("command", "name", "old"), RENAMED)
def test_help_shows_only_the_one_name(command: list[str], name: str, old: str) -> None:
    result = runner.invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert _named(result.output, name)
    assert not _named(result.output, old), result.output


def _cases(tmp: Path) -> list[tuple[list[str], str, str, str, list[str]]]:
    """(command with its other arguments, name, old spelling, value, a second value)."""
    chain = str(KEYS / "policy-admin-1.chain.pem")
    tariff_chain = str(KEYS / "tariff-signer.chain.pem")
    station_chain = str(KEYS / "station-1.chain.pem")
    issuer_chain = str(KEYS / "ticket-issuer.chain.pem")
    root = str(KEYS / "root-ca.crt.pem")
    at = ["--at", "2030-06-01T12:00:00Z", "--now", "2030-06-01T12:00:00Z"]
    ledger = str(tmp / "ledger.sqlite")
    return [
        (["policy", "sign", str(POLICY), "--key", str(KEYS / "policy-admin-1.key.pem"),
          "-o", str(tmp / "p.json")], "--certificates", "--chain", chain, [chain]),
        (["tariff", "sign", str(TARIFF), "--key", str(KEYS / "tariff-signer.key.pem"),
          "--trust-anchor", root, "-o", str(tmp / "t.json")],
         "--certificates", "--cert", tariff_chain, [tariff_chain]),
        (["tariff", "receipt", "--tariff", str(TARIFF), "--session", str(SESSION),
          "--key", str(KEYS / "station-1.key.pem"), "-o", str(tmp / "r.json")],
         "--certificates", "--cert", station_chain, [station_chain]),
        (["ticket", "issue", "--key", str(KEYS / "ticket-issuer.key.pem"),
          "--out", str(tmp / "ticket.json"), "--holder-key-out", str(tmp / "h.key.pem"),
          "--valid-for", "PT1H", "--evse", "DE*GEF*E*", "--max-sessions", "1", "--force"],
         "--certificates", "--chain", issuer_chain, [issuer_chain]),
        (["ticket", "challenge", "--ledger", ledger], "--station", "--station-id", "cs-0001",
         ["cs-0002"]),
        (["pki", "verify", station_chain, *at], "--trust-anchor", "--anchor", root, [root]),
    ]  # fmt: skip


def _invoke(args: list[str]) -> tuple[int, str, str]:
    result = runner.invoke(app, args)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("case", range(6))
def test_the_old_spelling_still_works_and_warns_once(tmp_path: Path, case: int) -> None:
    args, name, old, value, _other = _cases(tmp_path)[case]
    new_code, new_out, new_err = _invoke([*args, name, value])
    old_code, old_out, old_err = _invoke([*args, old, value])
    assert (new_code, old_code) == (0, 0), (new_err, old_err)
    notice = f"warning: {old} is deprecated and goes away in the next release; use {name}\n"
    assert notice not in new_err
    assert old_err.count(notice) == 1
    assert old_err.replace(notice, "") == new_err  # nothing else changes on stderr
    assert bool(new_out) == bool(old_out)


def test_the_old_spelling_gives_the_same_answer() -> None:
    chain, root = str(KEYS / "station-1.chain.pem"), str(KEYS / "root-ca.crt.pem")
    at = ["--at", "2030-06-01T12:00:00Z", "--now", "2030-06-01T12:00:00Z", "--json"]
    new = runner.invoke(app, ["pki", "verify", chain, "--trust-anchor", root, *at])
    old = runner.invoke(app, ["pki", "verify", chain, "--anchor", root, *at])
    assert (new.exit_code, new.stdout) == (old.exit_code, old.stdout)


@pytest.mark.parametrize("case", range(6))
def test_both_spellings_at_once_is_a_usage_error(tmp_path: Path, case: int) -> None:
    args, name, old, value, other = _cases(tmp_path)[case]
    code, out, err = _invoke([*args, name, value, old, *other])
    assert code == 2
    assert out == ""
    assert err.endswith(f"error: {old} is the old spelling of {name}; give {name} only\n")


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["ticket", "challenge", "--ledger", "l.sqlite"], "--station"),
        (["pki", "verify", "x.chain.pem"], "--trust-anchor"),
        (
            [
                "ticket",
                "issue",
                "--key",
                "k.pem",
                "--out",
                "t.json",
                "--holder-key-out",
                "h.pem",
                "--max-sessions",
                "1",
            ],
            "--certificates",
        ),
    ],
)
def test_a_required_option_missing_in_both_spellings_is_a_usage_error(
    args: list[str], name: str
) -> None:
    code, out, err = _invoke(args)
    assert (code, out) == (2, "")
    assert err == f"error: missing option {name}\n"
