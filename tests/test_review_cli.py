"""Review findings on the core CLI: hostile options give a one-line error (exit 2), no traceback."""

from __future__ import annotations

from pathlib import Path

from test_cli_core import RESET, STATION, assert_one_line_error, run

ROOT = Path(__file__).resolve().parent.parent
LEAF_CERT = ROOT / "keys-example" / "station-1.crt.pem"


def _frame(tmp_path: Path) -> Path:
    path = tmp_path / "reset.json"
    path.write_text(RESET)
    return path


def test_verify_with_a_max_age_beyond_the_calendar_is_a_usage_error(tmp_path: Path) -> None:
    code, _out, err = run(
        "verify", _frame(tmp_path), "--station", STATION, "--max-age", "99999999999999"
    )
    assert code == 2
    assert_one_line_error(err, "--max-age", "99999999999999")


def test_verify_with_a_clock_skew_beyond_the_calendar_is_a_usage_error(tmp_path: Path) -> None:
    code, _out, err = run(
        "verify", _frame(tmp_path), "--station", STATION, "--clock-skew", "99999999999999"
    )
    assert code == 2
    assert_one_line_error(err, "--clock-skew", "99999999999999")


def test_verify_with_a_negative_max_age_is_a_usage_error(tmp_path: Path) -> None:
    code, _out, err = run("verify", _frame(tmp_path), "--station", STATION, "--max-age", "-5")
    assert code == 2
    assert_one_line_error(err, "--max-age", "-5")


def test_verify_with_a_leaf_certificate_as_trust_anchor_is_a_usage_error(tmp_path: Path) -> None:
    leaf = tmp_path / "leaf.crt.pem"  # a copy: keys-example/ paths add a demo-key warning
    leaf.write_bytes(LEAF_CERT.read_bytes())
    code, _out, err = run("verify", _frame(tmp_path), "--station", STATION, "--trust-anchor", leaf)
    assert code == 2
    assert_one_line_error(err, "leaf.crt.pem", "is not a CA")
