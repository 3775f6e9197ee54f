"""``ocpp-e2e policy``: lint, check, explain, sign and upgrade signature policies (SPEC §7).

A thin skin over :mod:`ocpp_e2e.policy`: every decision and every refusal comes from the library.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ..canonical import loads
from ..context import PendingCall
from ..errors import OcppE2EError, PolicyError
from ..frames import OCPP_VERSIONS, Frame, parse_frame
from ..integrations.clock import system_clock
from ..keys import Keyring, load_signer
from ..policy import Decision, Policy, check_upgrade, evaluate, sign_policy
from ..policy.lifecycle import PolicyStore
from ..policy.lint import lint_policy_text
from ..policy.model import read_policy_file
from ._io import EXIT_FAILED, check_ocpp, fail, parse_now, read_bytes, renamed, write_output
from ._options import JsonOption, NowOption, OcppOption, StationOption

__all__ = [
    "check",
    "explain",
    "lint",
    "sign",
    "upgrade",
]

app = typer.Typer(
    help="Signature policies (SPEC §7): who may sign what, with which parameters.",
    no_args_is_help=True,
    add_completion=False,
)

PolicyOption = Annotated[Path, typer.Option("--policy", help="Policy file (.yaml, .yml or .json).")]
KeyringOption = Annotated[
    Path | None,
    typer.Option("--keyring", help="Keyring to verify with instead of the policy's own keys."),
]
FramesArgument = Annotated[
    list[str],
    typer.Argument(help="Files with one frame each, or one frame per line; - for stdin."),
]


def _load(path: Path) -> Policy:
    try:
        text, fmt = read_policy_file(path)
        _doc, problems = lint_policy_text(text, fmt=fmt, source=str(path))
        if problems:
            fail(
                f"{problems[0]}"
                + (f" (and {len(problems) - 1} more; run policy lint)" if len(problems) > 1 else "")
            )
        return Policy.from_dict(_doc, source=str(path))
    except PolicyError as exc:
        fail(str(exc))


def _frames(sources: list[str], ocpp: str) -> list[tuple[str, Frame]]:
    """Every frame of the inputs, named ``file`` or ``file:line``."""
    out: list[tuple[str, Frame]] = []
    for source in sources:
        data, name = read_bytes(source)
        try:
            whole = loads(data)
        except OcppE2EError:
            whole = None
        try:
            if isinstance(whole, list):
                out.append((name, parse_frame(data, ocpp=ocpp)))
                continue
            for number, line in enumerate(data.splitlines(), start=1):
                if line.strip():
                    out.append((f"{name}:{number}", parse_frame(line, ocpp=ocpp)))
        except OcppE2EError as exc:
            fail(f"{name}: {exc}")
    if not out:
        fail("no frames in the input")
    return out


def _decide(
    policy: Policy,
    frames: list[tuple[str, Frame]],
    *,
    station: str,
    ocpp: str,
    keyring: Path | None,
    now: str | None,
) -> list[tuple[str, Decision]]:
    try:
        ring = Keyring.load(keyring) if keyring is not None else None
        verifier = policy.verifier(keyring=ring)
    except OcppE2EError as exc:
        fail(str(exc))
    when = parse_now(now)
    calls: dict[
        str, PendingCall
    ] = {}  # responses answer the latest CALL with their id in the input
    out = []
    for name, frame in frames:
        if frame.is_call:
            calls[frame.message_id] = PendingCall.of(frame)
        call = calls.get(frame.message_id) if frame.is_response else None
        try:
            checked = verifier.verify_frame(frame, ocpp=ocpp, station=station, call=call, now=when)
        except OcppE2EError as exc:
            fail(f"{name}: {exc}")
        out.append((name, evaluate(policy, checked.verification, now=when)))
    return out


def lint(
    files: Annotated[list[Path], typer.Argument(help="Policy files to check.")],
    ocpp: Annotated[
        list[str] | None,
        typer.Option(
            "--ocpp",
            help="OCPP version in use (repeat for several; default "
            f"{', '.join(OCPP_VERSIONS)}): actions, kinds and where paths are checked against its official JSON schemas.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check policy files against the schema, SPEC §7 and the OCPP JSON schemas; list every
    problem with its place.

    Example: ocpp-e2e policy lint policies/grid-14a-enwg.yaml --ocpp 2.0.1
    """
    versions = tuple(check_ocpp(v) for v in ocpp) if ocpp else OCPP_VERSIONS
    report: dict[str, Any] = {}
    bad = False
    for path in files:
        try:
            text, fmt = read_policy_file(path)
        except PolicyError as exc:
            fail(str(exc))
        _doc, problems = lint_policy_text(text, fmt=fmt, source=str(path), ocpp=versions)
        bad = bad or bool(problems)
        report[str(path)] = [p.to_dict() for p in problems]
        if not as_json:
            for p in problems:
                typer.echo(str(p))
            if not problems:
                typer.echo(f"{path}: ok")
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    if bad:
        raise typer.Exit(EXIT_FAILED)


def check(
    frames: FramesArgument,
    policy: PolicyOption,
    station: StationOption,
    ocpp: OcppOption = "2.0.1",
    keyring: KeyringOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decide each frame under the policy; exit 1 when any frame is blocked.

    Example: ocpp-e2e policy check --policy policies/grid-14a-enwg.yaml --station cs-0001
    frames.jsonl
    """
    check_ocpp(ocpp)
    pol = _load(policy)
    decisions = _decide(
        pol, _frames(frames, ocpp), station=station, ocpp=ocpp, keyring=keyring, now=now
    )
    if as_json:
        typer.echo(
            json.dumps(
                [{"frame": name, **d.to_dict()} for name, d in decisions],
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for name, d in decisions:
            typer.echo(f"{name}: {d.summary()}")
    if any(not d.allowed for _name, d in decisions):
        raise typer.Exit(EXIT_FAILED)


def explain(
    frame: Annotated[str, typer.Argument(help="File with one frame, or - for stdin.")],
    policy: PolicyOption,
    station: StationOption,
    ocpp: OcppOption = "2.0.1",
    keyring: KeyringOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the full reasoning for one frame: signatures, counted signers, every rule and why.

    Example: ocpp-e2e policy explain --policy policies/grid-14a-enwg.yaml --station cs-0001 f.json
    """
    check_ocpp(ocpp)
    pol = _load(policy)
    frames = _frames([frame], ocpp)
    decisions = _decide(pol, frames, station=station, ocpp=ocpp, keyring=keyring, now=now)
    name, decision = decisions[-1]
    if as_json:
        typer.echo(json.dumps({"frame": name, **decision.to_dict()}, indent=2, ensure_ascii=False))
    else:
        typer.echo(decision.explain())
    if not decision.allowed:
        raise typer.Exit(EXIT_FAILED)


def sign(
    policy: Annotated[Path, typer.Argument(help="Policy file (YAML or JSON) to sign.")],
    key: Annotated[
        list[str],
        typer.Option("--key", help="Key: PEM path, file:, envvar: or pkcs11: URI; repeatable."),
    ],
    certificates: Annotated[
        list[Path] | None,
        typer.Option(
            "--certificates", help="Certificate chain (PEM) of the --key in the same position."
        ),
    ] = None,
    out: Annotated[str, typer.Option("--out", "-o", help="Output file, - for stdout.")] = "-",
    old_chain: Annotated[list[Path] | None, typer.Option("--chain", hidden=True)] = None,
) -> None:
    """Write the signed JSON form of a policy (existing signatures are kept).

    Example: ocpp-e2e policy sign policies/grid-14a-enwg.yaml
    --key keys-example/policy-admin-1.key.pem --certificates keys-example/policy-admin-1.chain.pem
    -o grid.signed.json
    """
    chains = renamed(certificates, old_chain, "--certificates", "--chain") or []
    if chains and len(chains) != len(key):
        fail("give one --certificates per --key, in the same order, or none")
    pol = _load(policy)
    try:
        from ..pki.validate import pem_chain_der

        signers = [
            load_signer(k, certificates=pem_chain_der(chains[i].read_bytes()) if chains else ())
            for i, k in enumerate(key)
        ]
        signed = sign_policy(pol, signers, timestamp=system_clock())
    except (OcppE2EError, OSError) as exc:
        fail(str(exc))
    write_output(out, json.dumps(signed, indent=2, ensure_ascii=False) + "\n")


def upgrade(
    new: Annotated[Path, typer.Argument(help="The new, signed policy version (JSON).")],
    installed: Annotated[Path, typer.Option("--installed", help="The installed policy file.")],
    now: NowOption = None,
    write: Annotated[
        bool, typer.Option("--write", help="On acceptance, replace the installed file with it.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Accept or refuse a new policy version under the installed one's admins, and say why.

    Example: ocpp-e2e policy upgrade --installed active.json v2.signed.json
    """
    active = _load(installed)
    data, _name = read_bytes(str(new))
    when = parse_now(now)
    result = check_upgrade(active, data, now=when)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        typer.echo(f"{result.verdict.value}: {result.reason}")
    if not result.accepted:
        raise typer.Exit(EXIT_FAILED)
    if write:
        if installed.suffix.lower() != ".json":
            fail(
                f"--write: {installed} is not a .json file; the installed form of a policy is JSON"
            )
        try:
            PolicyStore(installed).upgrade(data, now=when)
        except OcppE2EError as exc:
            fail(str(exc))


for _command in (lint, check, explain, sign, upgrade):
    app.command()(_command)
