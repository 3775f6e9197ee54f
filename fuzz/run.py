"""Run one coverage-guided fuzz target (atheris / libFuzzer) for N minutes.

    .venv/bin/pip install -e '.[fuzz]'
    nice -n 19 .venv/bin/python fuzz/run.py TARGET --minutes 10
    .venv/bin/python fuzz/run.py --list

The corpus grows in ``fuzz/corpus/TARGET`` (seeded from tests/data on the first run); a crash is
written to ``fuzz/crashes/TARGET/`` and the run stops with the traceback. Replay one input with
``fuzz/run.py TARGET --replay FILE``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--replay", type=Path, help="run the target once on this input file")
    parser.add_argument("--max-len", type=int, default=65536)
    args, extra = parser.parse_known_args()

    import atheris

    # Import every module of the package under instrumentation: the targets import lazily, and
    # a module first imported later would be invisible to the coverage guidance.
    with atheris.instrument_imports(include=["ocpp_e2e"]):
        import ocpp_e2e

        for module in pkgutil.walk_packages(ocpp_e2e.__path__, "ocpp_e2e."):
            if not module.name.startswith("ocpp_e2e.cli"):
                importlib.import_module(module.name)
    from fuzz import targets

    if args.list or not args.target:
        print("\n".join(targets.TARGETS))
        return 0
    if args.target not in targets.TARGETS:
        parser.error(f"unknown target {args.target!r}; one of {', '.join(targets.TARGETS)}")
    fn = targets.TARGETS[args.target]
    if args.replay:
        fn(args.replay.read_bytes())
        print(f"{args.replay}: no crash")
        return 0
    corpus = HERE / "corpus" / args.target
    crashes = HERE / "crashes" / args.target
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    for seed in targets.seeds(args.target):
        (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)  # noqa: S324 (a file name)
    argv = [
        sys.argv[0],
        str(corpus),
        f"-max_total_time={int(args.minutes * 60)}",
        f"-max_len={args.max_len}",
        f"-artifact_prefix={crashes}/",
        "-timeout=20",
        "-rss_limit_mb=3072",
        "-print_final_stats=1",
        *extra,
    ]
    atheris.Setup(argv, fn)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
