from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest

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


@pytest.fixture
def run_args(tmp_path: Path, tiny_space: Path) -> list[str]:
    """`searcher run` arguments for a tiny search in this test's own directory."""
    return [
        "run", "--space", str(tiny_space), "--storage", f"sqlite:///{tmp_path / 'study.db'}",
        "--runs-dir", str(tmp_path / "runs"), "--study", "tiny", "--no-pruning",
    ]  # fmt: skip


@pytest.fixture(autouse=True)
def stop_searcher_processes():
    """Kills the `searcher` processes a test started, even when the test failed."""
    from tests.searcher.processes import SearcherProcess

    yield
    SearcherProcess.kill_all()


# Every process the suite starts (and their children: workers, Streamlit servers) inherits this
# marker; at the end of the session any still alive is killed and the session fails.
SESSION_MARKER = "DIVCO_TEST_SESSION"


def pytest_sessionstart(session: pytest.Session) -> None:
    os.environ[SESSION_MARKER] = f"{os.getpid()}-{time.time_ns()}"
    # costs counted by the suite (and its searcher processes) stay out of the user's cache
    os.environ["DIVCO_COST_CACHE"] = tempfile.mkdtemp(prefix="divco-test-costs-")
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    costs = os.environ.get("DIVCO_COST_CACHE", "")
    if "divco-test-costs-" in costs:
        shutil.rmtree(costs, ignore_errors=True)
    marker = os.environ.get(SESSION_MARKER)
    if marker is None or not Path("/proc/self/environ").exists():
        return  # not Linux: nothing to scan
    deadline = time.monotonic() + 5  # processes told to stop get a moment to exit
    leftovers = processes_with_marker(marker)
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.2)
        leftovers = processes_with_marker(marker)
    if not leftovers:
        return
    lines = []
    for pid in leftovers:
        with contextlib.suppress(OSError):
            cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ")
            lines.append(f"  {pid}: {cmd.decode(errors='replace')[:200]}")
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    print("\nprocesses started by the test suite were still alive (now killed):", file=sys.stderr)
    print("\n".join(lines), file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
