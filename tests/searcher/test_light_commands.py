"""Commands that do not train import neither torch nor the trainers (checked in a fresh process,
so the test process's own imports do not matter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from searcher.cli.options import DEFAULT_SPACES
from tests.ui.fake_study import make_study
from trainers.data import DATASETS

ROOT = Path(__file__).resolve().parents[2]
CHECK = """
import os, sys
os.execv = lambda *args: sys.exit(0)  # `ui` would become Streamlit here: stop at that point
from searcher.cli.main import main
for argv in {argvs!r}:
    try:
        main(argv)
    except SystemExit:
        pass
heavy = sorted(m for m in ("torch", "torchvision", "trainers", "fvcore") if m in sys.modules)
print("heavy:", heavy)
"""


def heavy_modules_after(argvs: list[list[str]], cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-c", CHECK.format(argvs=argvs)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(ROOT)})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()[-1]


@pytest.mark.slow
def test_help_frontier_ui_and_argument_errors_do_not_load_torch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    make_study(url, trained=5)
    argvs = [
        ["--help"],
        ["run", "--n-trials", "0"],  # an argument error
        ["frontier", "--storage", url, "--study", "fake"],
        ["ui", "--storage", url, "--study", "fake"],
    ]
    assert heavy_modules_after(argvs, tmp_path) == "heavy: []"


def test_frontier_prints_the_front_of_a_stored_study(tmp_path: Path, capsys) -> None:
    from searcher.cli.main import main
    from searcher.study.frontier import pareto_front
    from ui.data import load_records

    url = f"sqlite:///{tmp_path / 'study.db'}"
    make_study(url, trained=12)
    assert main(["frontier", "--storage", url, "--study", "fake"]) == 0
    front = pareto_front(load_records(url, "fake"))
    out = capsys.readouterr().out
    assert f"12 trials, {len(front)} on the accuracy-gflops front" in out
    printed = [int(line.split()[0]) for line in out.splitlines()[3:]]
    assert printed == [r.number for r in front]


def test_the_cli_lists_every_registered_data_set() -> None:
    assert set(DEFAULT_SPACES) == set(DATASETS.keys())


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback() -> None:
    """`searcher frontier --format json | head`: the closed pipe ends the command quietly."""
    script = (
        "import sys, searcher.cli.main as m\n"
        "def handler(args):\n"
        "    for _ in range(100000):\n"
        "        print('[' * 100)\n"
        "m.cmd_frontier = handler\n"
        "sys.exit(m.main(['frontier']))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.read(10)
    child.stdout.close()  # the reader had enough
    errors = child.stderr.read().decode()
    assert child.wait(timeout=60) == 0
    assert "Traceback" not in errors and errors == ""
