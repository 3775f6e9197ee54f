"""Spreading an audit over a Dask cluster: routing lines by station, exact merged results."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from distributed import Client, LocalCluster, WorkerPlugin

from ocpp_e2e.audit.cluster import Cluster
from ocpp_e2e.audit.logs import ReadOptions, Side
from ocpp_e2e.audit.report import json_lines
from ocpp_e2e.audit.run import AuditSettings, AuditUnit, audit_logs
from ocpp_e2e.errors import InputError
from ocpp_e2e.model import Direction

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "audit"
SETTINGS = AuditSettings(policy=str(ROOT / "examples" / "audit" / "policy.yaml"), now=datetime.now(UTC))
TO_CS, TO_CSMS = Direction.TO_STATION, Direction.TO_CSMS


def _line(station: str, frame: object, key: str = '"station"') -> bytes:
    ts = '"ts":"2026-03-02T08:00:00Z"'
    frame_json = json.dumps(frame, separators=(",", ":"))
    return f'{{"frame":{frame_json},{ts},{key}:"{station}","direction":"toCSMS"}}'.encode()


# --------------------------------------------------------------------------- routing


# --------------------------------------------------------------------------- a Dask cluster


class _Patch(WorkerPlugin):  # type: ignore[misc]
    """Replaces ``AuditUnit.take`` in every worker process (the failures tests inject)."""

    def __init__(self, mode: str, sentinel: str = "") -> None:
        self.mode = mode
        self.sentinel = sentinel

    def setup(self, worker: object) -> None:
        from ocpp_e2e.audit import run as worker_run

        original = worker_run.AuditUnit.take
        mode, sentinel = self.mode, self.sentinel

        def take(unit: AuditUnit, work: Any) -> Any:
            if mode == "fail":
                raise RuntimeError("disk on fire")
            if mode == "die-once" and not os.path.exists(sentinel):
                Path(sentinel).write_text("killed once")
                os._exit(3)
            return original(unit, work)

        worker_run.AuditUnit.take = take  # type: ignore[method-assign]

    def teardown(self, worker: object) -> None:
        import importlib

        from ocpp_e2e.audit import run as worker_run

        importlib.reload(worker_run)


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    """Two worker processes for the module's tests (a cluster starts in seconds, not free)."""
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as c,
        Client(c) as client,
    ):
        yield client


@pytest.fixture
def cluster(dask_cluster: Any, tmp_path: Path) -> Iterator[Cluster]:
    yield Cluster(address=dask_cluster.scheduler.address, scratch=str(tmp_path / "scratch"))
    plugins = dask_cluster.run_on_scheduler(
        lambda dask_scheduler: list(dask_scheduler.worker_plugins)
    )
    if "patch" in plugins:  # no failure injected by one test reaches the next
        dask_cluster.unregister_worker_plugin("patch")


def _report(paths: list[str], options: ReadOptions, **kwargs: Any) -> list[str]:
    lines = list(json_lines(audit_logs(paths, options, SETTINGS, **kwargs)))
    return [_without_timing(line) for line in lines]


def _without_timing(line: str) -> str:
    data = json.loads(line)
    for key in ("elapsed", "seconds", "started", "duration"):
        data.pop(key, None)
    return json.dumps(data, sort_keys=True)


def test_a_cluster_audits_text_logs_exactly_like_one_process(cluster: Cluster) -> None:
    options = ReadOptions(side=Side.CSMS)
    paths = [str(DATA / "steve.log"), str(DATA / "ocpp_lib_csms.log")]
    one = _report(paths, options)
    assert _report(paths, options, cluster=cluster) == one
    assert json.loads(one[-1])["frames"] > 0


def test_a_shuffled_file_list_gives_the_same_report(cluster: Cluster, tmp_path: Path) -> None:
    day = ROOT / "examples" / "audit" / "day.jsonl.gz"
    lines = gzip.decompress(day.read_bytes()).splitlines(keepends=True)
    parts = [tmp_path / f"part-{i}.jsonl" for i in range(4)]
    size = len(lines) // 4 + 1
    for i, part in enumerate(parts):
        part.write_bytes(b"".join(lines[i * size : (i + 1) * size]))
    names = [str(p) for p in parts]
    one = _report(names, ReadOptions())
    shuffled = [names[2], names[0], names[3], names[1]]
    assert _report(shuffled, ReadOptions()) == one
    assert _report(shuffled, ReadOptions(), cluster=cluster) == one
    assert _report(list(reversed(names)), ReadOptions(), cluster=cluster) == one


def test_a_glob_and_a_file_url_read_the_same_logs(cluster: Cluster, tmp_path: Path) -> None:
    day = ROOT / "examples" / "audit" / "day.jsonl.gz"
    copy = tmp_path / "a.jsonl.gz"
    copy.write_bytes(day.read_bytes())
    one = _report([str(copy)], ReadOptions())
    assert _report([str(tmp_path / "*.jsonl.gz")], ReadOptions(), cluster=cluster) == one
    url = f"file://{copy}"
    by_url = _report([url], ReadOptions(), cluster=cluster)
    assert by_url == _report([url], ReadOptions())
    assert [line.replace(url, str(copy)) for line in by_url] == one


def test_a_glob_that_matches_nothing_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no file matches"):
        audit_logs([str(tmp_path / "*.log")], ReadOptions(), SETTINGS)


def test_the_same_file_twice_is_audited_twice_in_order(cluster: Cluster) -> None:
    log = str(DATA / "sample.jsonl")
    report = audit_logs([log, log], ReadOptions(), SETTINGS, cluster=cluster)
    found = [(f.line, f.kind.value) for f in report.findings]
    once = [
        (4, "unreadable-line"),
        (5, "unreadable-line"),
        (6, "unreadable-line"),
        (7, "unreadable-line"),
    ]
    # the second copy goes back in time on station cs-0001: its first frame says so
    assert found == [*once, (1, "time-backwards"), *once]


def test_progress_ends_with_every_line_done(cluster: Cluster) -> None:
    seen: list[int] = []
    log = str(ROOT / "examples" / "audit" / "day.jsonl.gz")
    report = audit_logs([log], ReadOptions(), SETTINGS, cluster=cluster, progress=seen.append)
    assert seen[-1] == report.summary.to_dict()["lines"]
    assert seen == sorted(seen)


def test_a_policy_that_does_not_load_is_an_input_error_before_the_cluster_starts(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("type: nothing\n")
    with pytest.raises(InputError, match=r"policy\.yaml"):
        audit_logs([str(DATA / "sample.jsonl")], ReadOptions(), AuditSettings(str(bad), now=datetime.now(UTC)), workers=2)


def test_workers_give_a_local_cluster_that_agrees_with_one_process_and_leaves_no_thread() -> None:
    log = str(ROOT / "examples" / "audit" / "day.jsonl.gz")
    one = _report([log], ReadOptions())
    assert _report([log], ReadOptions(), workers=2) == one
    # Dask keeps one process-wide offload thread once a client has run; nothing more may stay.
    # Threads of the first run may still be finishing (the count can go down); a thread started by
    # the second run is given a bounded time to end, and one still alive after it is a leak.
    before = set(threading.enumerate())
    assert _report([log], ReadOptions(), workers=2) == one
    started = [t for t in threading.enumerate() if t not in before]
    for thread in started:
        thread.join(timeout=10)
    assert [t.name for t in started if t.is_alive()] == []


def test_a_task_that_fails_makes_the_audit_fail_with_its_reason(
    cluster: Cluster, dask_cluster: Any
) -> None:
    dask_cluster.register_plugin(_Patch("fail"), name="patch")
    log = str(ROOT / "examples" / "audit" / "day.jsonl.gz")
    with pytest.raises(InputError, match="audit task failed: RuntimeError: disk on fire"):
        audit_logs([log], ReadOptions(), SETTINGS, cluster=cluster)


def test_a_worker_killed_mid_audit_is_replaced_and_the_report_is_still_exact(
    cluster: Cluster, dask_cluster: Any, tmp_path: Path
) -> None:
    log = str(ROOT / "examples" / "audit" / "day.jsonl.gz")
    one = _report([log], ReadOptions())
    sentinel = tmp_path / "killed"
    dask_cluster.register_plugin(_Patch("die-once", str(sentinel)), name="patch")
    assert _report([log], ReadOptions(), cluster=cluster) == one
    assert sentinel.read_text() == "killed once"  # a worker really died mid-audit


def test_a_remote_cluster_without_a_shared_scratch_folder_is_refused() -> None:
    with pytest.raises(InputError, match="scratch folder every worker can reach"):
        Cluster(address="tcp://192.0.2.1:8786")


def test_standard_input_cannot_go_to_a_cluster(cluster: Cluster) -> None:
    with pytest.raises(InputError, match="standard input"):
        audit_logs(["-"], ReadOptions(), SETTINGS, cluster=cluster)


def test_a_shard_naming_another_class_is_refused(tmp_path: Path) -> None:
    from ocpp_e2e.audit.cluster import _read_shard

    shard = tmp_path / "evil.shard"
    shard.write_bytes(pickle.dumps([(0, os.system)]))
    with pytest.raises(InputError, match=r"may not hold: posix\.system"):
        list(_read_shard(str(shard)))


# --------------------------------------------------------------------------- files that break


def _broken_gzip(tmp_path: Path) -> Path:
    """The example day, gzip cut in the middle: the first part reads, then decompression fails."""
    day = (ROOT / "examples" / "audit" / "day.jsonl.gz").read_bytes()
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(day[: len(day) // 2])
    return broken


def test_a_file_that_breaks_midway_is_a_finding_at_the_break_and_the_audit_goes_on(
    cluster: Cluster, tmp_path: Path
) -> None:
    broken = _broken_gzip(tmp_path)
    other = str(DATA / "sample.jsonl")
    report = audit_logs([str(broken), other], ReadOptions(), SETTINGS)
    breaks = [
        f for f in report.findings if f.file == str(broken) and "cannot read past" in f.detail
    ]
    assert len(breaks) == 1 and breaks[0].kind.value == "unreadable-line"
    assert breaks[0].line > 1000  # what came before the break was read and audited
    assert any(f.file == other for f in report.findings)  # the next file was audited too
    assert report.exit_status == 1
    one = [_without_timing(line) for line in json_lines(report)]
    assert _report([str(broken), other], ReadOptions(), cluster=cluster) == one


def test_a_url_that_cannot_be_opened_is_a_finding_not_an_abort(
    cluster: Cluster, tmp_path: Path
) -> None:
    missing = f"file://{tmp_path}/gone.jsonl"
    other = str(DATA / "sample.jsonl")
    report = audit_logs([missing, other], ReadOptions(), SETTINGS, cluster=cluster)
    gone = [f for f in report.findings if f.file == missing]
    assert [(f.kind.value, f.line) for f in gone] == [("unreadable-line", 0)]
    assert "cannot open log file" in gone[0].detail
    assert any(f.file == other for f in report.findings)


def test_a_missing_local_file_is_a_usage_error_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"gone\.jsonl: cannot open log file"):
        audit_logs([str(tmp_path / "gone.jsonl")], ReadOptions(), SETTINGS, workers=2)


def test_a_corrupt_xz_log_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    broken = tmp_path / "corrupt.jsonl.xz"
    broken.write_bytes(b"\xfd7zXZ\x00" + b"\x00" * 64)  # xz magic, then nothing xz can read
    report = audit_logs([str(broken)], ReadOptions(), SETTINGS)
    assert [(f.kind.value, f.line) for f in report.findings] == [("unreadable-line", 1)]
    assert "cannot read the log file" in report.findings[0].detail


# --------------------------------------------------------------------------- --dask [ADDRESS]

DAY = str(ROOT / "examples" / "audit" / "day.jsonl.gz")
POLICY = str(ROOT / "examples" / "audit" / "policy.yaml")


def _cli(args: list[str]) -> Any:
    from typer.testing import CliRunner

    from ocpp_e2e.cli import app

    return CliRunner().invoke(app, ["audit", *args])


@pytest.fixture
def chosen(monkeypatch: pytest.MonkeyPatch) -> list[Cluster | None]:
    """The cluster each CLI run chose; the audit itself runs in this process."""
    from ocpp_e2e.audit import run as audit_run  # the command imports audit_logs when it runs

    seen: list[Cluster | None] = []

    def run(logs: list[str], options: ReadOptions, settings: AuditSettings, **kw: Any) -> Any:
        seen.append(kw.pop("cluster"))
        assert logs == [DAY]  # no log was taken for an address, nor an address for a log
        return audit_logs(logs, options, settings, **kw)

    monkeypatch.setattr(audit_run, "audit_logs", run)
    return seen


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([DAY, "--policy", POLICY, "--dask"], Cluster()),
        (["--dask", DAY, "--policy", POLICY], Cluster()),
        ([DAY, "--dask", "--policy", POLICY, "-w", "2"], Cluster(workers=2)),
        (
            [DAY, "-p", POLICY, "--dask", "tcp://10.0.0.5:8786", "--scratch", "s3://b/t"],
            Cluster(address="tcp://10.0.0.5:8786", scratch="s3://b/t"),
        ),
        (
            ["--dask=tcp://10.0.0.5:8786", DAY, "-p", POLICY, "--scratch", "s3://b/t"],
            Cluster(address="tcp://10.0.0.5:8786", scratch="s3://b/t"),
        ),
        (
            ["--dask", "10.0.0.5:8786", DAY, "-p", POLICY, "--scratch", "s3://b/t"],
            Cluster(address="10.0.0.5:8786", scratch="s3://b/t"),
        ),
        (  # the old spelling, hidden, for one release
            [DAY, "-p", POLICY, "--scheduler", "tls://sched:8786", "--scratch", "s3://b/t"],
            Cluster(address="tls://sched:8786", scratch="s3://b/t"),
        ),
        ([DAY, "-p", POLICY, "--workers", "2"], Cluster(workers=2)),
        ([DAY, "-p", POLICY], None),
    ],
)
def test_each_spelling_of_dask_chooses_its_cluster(
    chosen: list[Cluster | None], args: list[str], expected: Cluster | None
) -> None:
    result = _cli(["--json", *args])
    assert result.exit_code == 1, result.output  # the example day violates its policy
    assert chosen == [expected]
    deprecated = "warning: --scheduler is deprecated and goes away in the next release; use --dask"
    assert (deprecated in result.stderr) == ("--scheduler" in args)
    assert json.loads(result.stdout.splitlines()[-1])["frames"] > 0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["--dask=nonsense"],
            "--dask: 'nonsense' is not a Dask scheduler address such as tcp://host:8786",
        ),
        (
            ["--dask", "tcp://"],
            "--dask: 'tcp://' is not a Dask scheduler address such as tcp://host:8786",
        ),
        (
            ["--dask", "http://sched:8786"],
            "--dask: 'http://sched:8786' is not a Dask scheduler address: unknown scheme 'http' "
            "(Dask's: tcp, tls, ws, wss, ucx, inproc)",
        ),
        (
            ["--dask=tcp://sched:0"],
            "--dask: 'tcp://sched:0' is not a Dask scheduler address: it needs a port from 1 to "
            "65535 (tcp://host:8786)",
        ),
        (
            ["--dask", "tcp://sched:8786", "--workers", "2"],
            "--workers sizes a local cluster; an existing cluster (--dask ADDRESS) has its own",
        ),
        (
            ["--dask", "tcp://a:8786", "--scheduler", "tcp://b:8786"],
            "--scheduler is the old spelling of --dask; give --dask only",
        ),
        (
            ["--dask", "tcp://sched:8786"],
            "a remote Dask cluster (tcp://sched:8786) cannot read this machine's temporary folder",
        ),
        (
            ["--scratch", "s3://b/t"],
            "--scratch is for Dask runs (--dask [ADDRESS] or --workers > 1)",
        ),
    ],
)
def test_a_bad_dask_address_is_a_usage_error(
    chosen: list[Cluster | None], args: list[str], error: str
) -> None:
    result = _cli([DAY, "--policy", POLICY, *args])
    assert result.exit_code == 2
    assert f"error: {error}" in result.stderr
    assert "Traceback" not in result.output
    assert chosen == []  # nothing was audited


def test_an_unreachable_scheduler_is_a_usage_error_within_dasks_connect_timeout(
    tmp_path: Path,
) -> None:
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = _cli(
            [DAY, "-p", POLICY, "--dask", "tcp://127.0.0.1:1", "--scratch", str(tmp_path)]
        )
    assert result.exit_code == 2
    assert "error: cannot reach the Dask scheduler at tcp://127.0.0.1:1" in result.stderr


def test_the_help_shows_dask_with_an_optional_address_and_hides_the_old_spelling() -> None:
    result = _cli(["--help"])
    assert "--dask" in result.stdout and "[ADDRESS]" in result.stdout
    assert "--scheduler" not in result.stdout


def test_dask_with_an_address_audits_on_that_cluster_like_one_process(
    cluster: Cluster,
) -> None:
    one = _cli(["--json", DAY, "-p", POLICY])
    assert cluster.address is not None and cluster.scratch is not None
    for spelling in (["--dask", cluster.address], [f"--dask={cluster.address}"]):
        on_dask = _cli(["--json", DAY, "-p", POLICY, *spelling, "--scratch", cluster.scratch])
        assert on_dask.exit_code == one.exit_code == 1
        assert [_without_timing(x) for x in on_dask.stdout.splitlines()] == [
            _without_timing(x) for x in one.stdout.splitlines()
        ]


def test_dask_without_an_address_audits_on_a_local_cluster_like_one_process() -> None:
    one = _cli(["--json", DAY, "-p", POLICY])
    local = _cli(["--json", DAY, "-p", POLICY, "--dask"])
    assert local.exit_code == one.exit_code == 1
    assert [_without_timing(x) for x in local.stdout.splitlines()] == [
        _without_timing(x) for x in one.stdout.splitlines()
    ]


# --------------------------------------------------------------------------- one pass, progress


def test_one_partition_audits_in_one_pass_without_shards_like_one_process(
    cluster: Cluster, tmp_path: Path
) -> None:
    paths = [str(DATA / "steve.log"), str(DATA / "sample.jsonl"), DAY]
    options = ReadOptions(side=Side.CSMS)
    alone: list[int] = []
    one = _report(paths, options, progress=alone.append)
    seen: list[int] = []
    one_pass = replace(cluster, partitions=1)
    assert _report(paths, options, cluster=one_pass, progress=seen.append) == one
    assert seen == sorted(seen) and seen[-1] == alone[-1]  # every item audited, counted once
    assert cluster.scratch is not None and not Path(cluster.scratch).exists()  # nothing routed
    assert _report(paths, options, cluster=replace(cluster, partitions=3)) == one


def test_a_worker_killed_in_the_one_pass_audit_is_replaced_and_the_report_is_exact(
    cluster: Cluster, dask_cluster: Any, tmp_path: Path
) -> None:
    one = _report([DAY], ReadOptions())
    sentinel = tmp_path / "killed"
    dask_cluster.register_plugin(_Patch("die-once", str(sentinel)), name="patch")
    assert _report([DAY], ReadOptions(), cluster=replace(cluster, partitions=1)) == one
    assert sentinel.read_text() == "killed once"


def test_a_task_outside_a_worker_tells_nobody_its_progress() -> None:
    from ocpp_e2e.audit.cluster import audit_files

    placed, end, stats, items, unlisted = audit_files([DAY], ReadOptions(), SETTINGS, "a-topic")
    assert items == stats.lines > 0 and end[1] > 0 and placed and unlisted == 0


class _Client:
    def __init__(self) -> None:
        self.topics: dict[str, Any] = {}

    def subscribe_topic(self, topic: str, handler: Any) -> None:
        self.topics[topic] = handler

    def unsubscribe_topic(self, topic: str) -> None:
        del self.topics[topic]


def test_progress_sums_the_most_each_task_reported_and_stops_at_the_total() -> None:
    from ocpp_e2e.audit.cluster import _Progress

    client, shown = _Client(), list[int]()
    with _Progress(client, shown.append) as progress:
        event = client.topics[progress.topic]
        event((0.0, ["partition 0", 100]))
        event((0.1, ["partition 1", 50]))
        event((0.2, ["partition 0", 30]))  # partition 0 again, on the worker that replaced it
        event((0.3, ["partition 0", 120]))
        progress.finish(400)
        event((0.4, ["partition 1", 60]))  # late: the total is already shown
    assert shown == [100, 150, 170, 400]
    assert client.topics == {}


def test_no_progress_asked_means_no_topic() -> None:
    from ocpp_e2e.audit.cluster import _Progress

    client = _Client()
    with _Progress(client, None) as progress:
        assert progress.topic == "" and client.topics == {}
        progress.finish(10)


@pytest.mark.parametrize("partitions", [1, 3])
def test_tasks_send_at_most_max_findings_and_the_report_is_the_same(
    cluster: Cluster, partitions: int
) -> None:
    settings = replace(SETTINGS, max_findings=2)
    paths = [str(DATA / "sample.jsonl"), DAY]
    one = [_without_timing(x) for x in json_lines(audit_logs(paths, ReadOptions(), settings))]
    assert json.loads(one[-1])["findingsNotListed"] > 0 and len(one) == 3
    on_dask = audit_logs(
        paths, ReadOptions(), settings, cluster=replace(cluster, partitions=partitions)
    )
    assert [_without_timing(x) for x in json_lines(on_dask)] == one
