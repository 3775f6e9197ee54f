"""One rule, one implementation: the identity-pattern matcher (SPEC §6/§7) and the RFC 3339
parser are shared by policies, tickets, audits and the CLI, so they cannot disagree."""

from __future__ import annotations

import pytest

from ocpp_e2e._time import parse_rfc3339
from ocpp_e2e.context import identity_matches
from ocpp_e2e.policy import RoleGrant, check_document
from ocpp_e2e.tickets.model import pattern_matches


def test_tickets_and_policies_use_the_same_matcher() -> None:
    assert pattern_matches is identity_matches


def test_a_policy_role_pattern_matches_a_certificate_identity_in_any_ascii_case() -> None:
    grant = RoleGrant("grid", "gridOperator", identities=("dso-*",))
    assert grant.grants("DSO-Example", frozenset({"gridOperator"}), ())
    assert not grant.grants("xdso-1", frozenset({"gridOperator"}), ())


def test_only_a_trailing_star_is_a_wildcard() -> None:
    assert identity_matches("DE*GEF*", "de*gef*e1")
    assert not identity_matches("DE*F", "DE-XYZ-F")
    assert identity_matches("a*b", "A*B")


def test_the_rfc3339_parser_gives_utc_and_refuses_dates_that_do_not_exist() -> None:
    assert parse_rfc3339("2026-03-01T08:00:00.250+01:00").isoformat() == (
        "2026-03-01T07:00:00.250000+00:00"
    )
    with pytest.raises(ValueError, match="is not a date and time that exists"):
        parse_rfc3339("2026-02-30T00:00:00Z")
    with pytest.raises(ValueError, match="not an RFC 3339 date-time with offset"):
        parse_rfc3339("2026-03-01T08:00:00")


def test_a_policy_whose_not_before_does_not_exist_is_refused_with_the_reason() -> None:
    problems = check_document(
        {"type": "SignaturePolicy", "id": "p", "version": 1, "notBefore": "2026-02-30T00:00:00Z",
         "rules": [{"id": "r", "effect": "permit", "match": {"actions": ["Heartbeat"]},
                    "signers": "none"}]}
    )  # fmt: skip
    assert [(p.path, "not a date and time that exists" in p.message) for p in problems] == [
        ("$.notBefore", True)
    ]


def test_one_cli_name_per_idea_with_the_old_spelling_kept() -> None:
    from typer.testing import CliRunner

    from ocpp_e2e.cli import app

    chain, root = "keys-example/station-1.chain.pem", "keys-example/root-ca.crt.pem"
    at = ["--at", "2030-06-01T12:00:00Z", "--now", "2030-06-01T12:00:00Z"]
    new = CliRunner().invoke(app, ["pki", "verify", chain, "--trust-anchor", root, *at])
    old = CliRunner().invoke(app, ["pki", "verify", chain, "--anchor", root, *at])
    assert (new.exit_code, new.stdout) == (old.exit_code, old.stdout)
    assert new.exit_code == 0, new.output
