from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# One intra-op thread per test process, set before anything imports torch (child processes
# inherit it). The suite's models are tiny: a second thread gains nothing, and on a busy or
# parallel (pytest-xdist) 2-core machine OpenMP's spinning threads cost some 20x the CPU time.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# A trial's latency table is timed row by row until its calls agree or a time cap passes; on a busy
# machine they never agree, and the suite's trials prove nothing by the precision of their table.
os.environ.setdefault("DIVCO_LATENCY_MAX_S", "0.02")

TINY_SPACE = """
description: two tiny families for fast tests
families:
  resnet: {depths: [8], widths: [2, 4]}
  wide_resnet: {depths: [10], widths: [1]}
networks: [1, 2]
image_sizes: [8]
references:
  - {family: resnet, depth: 8, width: 4, image_size: 8}
recipe: {epochs: 1, batch_size: 128, lr: 0.05, warmup_epochs: 0, js_warmup_epochs: 1, augmentation: crop}
"""


@pytest.fixture
def tiny_space(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return path


def tiny_run_args(directory: Path, space: Path) -> list[str]:
    return [
        "run", "--space", str(space), "--storage", f"sqlite:///{directory / 'study.db'}",
        "--runs-dir", str(directory / "runs"), "--study", "tiny", "--no-pruning",
    ]  # fmt: skip


@pytest.fixture
def run_args(tmp_path: Path, tiny_space: Path) -> list[str]:
    """`searcher run` arguments for a tiny search in this test's own directory."""
    return tiny_run_args(tmp_path, tiny_space)


@dataclass(frozen=True)
class TrainedStudy:
    """A finished tiny search: its storage, the study's name and what `searcher run` printed."""

    storage: str
    name: str
    output: str


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> TrainedStudy:
    """`searcher run --n-trials 3` over the tiny space, once a session (once per xdist worker),
    for the tests that only read a trained study; a test that changes its study runs its own."""
    from searcher.cli.main import main

    directory = tmp_path_factory.mktemp("tiny-study")
    space = directory / "tiny.yaml"
    space.write_text(TINY_SPACE)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([*tiny_run_args(directory, space), "--n-trials", "3"]) == 0
    return TrainedStudy(f"sqlite:///{directory / 'study.db'}", "tiny", printed.getvalue())


@pytest.fixture(autouse=True)
def stop_searcher_processes():
    """Kills the `searcher` processes a test started, even when the test failed."""
    from tests.searcher.processes import SearcherProcess

    yield
    SearcherProcess.kill_all()


# Every process the suite starts (and their children: workers, Streamlit servers) inherits this
# marker; at the end of the session any still alive is killed and the session fails. Under
# pytest-xdist each worker process runs its own session: it marks and scans its own processes and
# hands what it found to the controller (`workeroutput`), which reports it and fails the run.
SESSION_MARKER = "DIVCO_TEST_SESSION"
LEFTOVERS_KEY = "divco_leftover_processes"
leftovers_key = pytest.StashKey[list[str]]()
COST_CACHE, COST_CACHE_PREFIX = "DIVCO_COST_CACHE", "divco-test-costs-"


def is_xdist_controller(config: pytest.Config) -> bool:
    """The process that hands tests to xdist workers and runs none itself."""
    return config.pluginmanager.hasplugin("dsession")


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[leftovers_key] = []
    if not is_xdist_controller(session.config):
        os.environ[SESSION_MARKER] = f"{os.getpid()}-{time.time_ns()}"
        # costs counted by the suite (and its searcher processes) stay out of the user's cache
        os.environ[COST_CACHE] = tempfile.mkdtemp(prefix=COST_CACHE_PREFIX)
    children_get_default_signals()


def children_get_default_signals() -> None:
    """A run started in the background (`nohup`, `&` in a script) ignores SIGINT and SIGHUP,
    and an ignored signal stays ignored across exec, so the searcher and dashboard processes the
    tests start would ignore the signals the tests send them. A handler that does nothing keeps
    this run as deaf as it was started, while exec resets handled signals to their defaults."""
    for signum in (signal.SIGINT, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, lambda *_: None)


def processes_with_marker(marker: str) -> list[int]:
    needle = f"{SESSION_MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            if needle in environ and b"Z" not in (entry / "stat").read_bytes().split(b") ")[1][:1]:
                found.append(int(entry.name))
        except OSError:  # exited meanwhile, or not ours to read
            continue
    return found


def kill_leftovers(marker: str) -> list[str]:
    """Kills this session's processes still alive after a moment's grace; one line each."""
    deadline = time.monotonic() + 5  # processes told to stop get a moment to exit
    leftovers = processes_with_marker(marker)
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.2)
        leftovers = processes_with_marker(marker)
    lines = []
    for pid in leftovers:
        with contextlib.suppress(OSError):
            cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ")
            lines.append(f"  {pid}: {cmd.decode(errors='replace')[:200]}")
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return lines


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: collects what a finished worker found and killed."""
    found = getattr(node, "workeroutput", {}).get(LEFTOVERS_KEY, [])
    node.config.stash[leftovers_key].extend(found)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    costs = os.environ.get(COST_CACHE, "")
    if COST_CACHE_PREFIX in costs:
        shutil.rmtree(costs, ignore_errors=True)
    config, marker = session.config, os.environ.get(SESSION_MARKER)
    if not is_xdist_controller(config) and marker and Path("/proc/self/environ").exists():
        config.stash[leftovers_key].extend(kill_leftovers(marker))  # not Linux: nothing to scan
    lines = config.stash[leftovers_key]
    if hasattr(config, "workerinput"):  # an xdist worker: the controller reports and fails
        config.workeroutput[LEFTOVERS_KEY] = lines
        return
    if lines:
        print(
            "\nprocesses started by the test suite were still alive (now killed):", file=sys.stderr
        )
        print("\n".join(lines), file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def without_anchor(monkeypatch: pytest.MonkeyPatch) -> None:
    """New studies seeded with their references only, for tests about the references' queue or
    a seeded sampler's exact proposals (the anchor itself: tests/searcher/test_anchor.py)."""
    monkeypatch.setattr("searcher.study.open.anchors", lambda _space: [])


@pytest.fixture(autouse=True)
def fresh_outage_ledger() -> Iterator[None]:
    """The working clock (searcher/study/outage.py) is per process: an outage a test leaves
    open would freeze it for every later test on the same xdist worker (a claim's wait never
    reaching its limit)."""
    yield
    from searcher.study import outage

    outage._LEDGER = outage._Ledger()
