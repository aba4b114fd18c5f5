"""A full disk or an unwritable runs folder: a checkpoint that cannot be written fails its trial
with one clear line, earlier checkpoints and the stored study stay intact, and five failures in
a row stop the run; the image-index cache is only skipped. Injected, and on a real tiny tmpfs
where this machine lets the tests mount one."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest

from searcher.cli.main import main
from searcher.study import attrs
from searcher.study.records import read_records
from tests.trainers.data.test_streaming import make_folder
from trainers.data.index import load_index


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_until_the_disk_fails(run_args: list[str], runs: Path, capsys) -> dict[Path, str]:
    """The references train and write their checkpoints; returns their digests."""
    assert main([*run_args, "--n-trials", "1"]) == 0
    capsys.readouterr()
    return {path: digest(path) for path in runs.rglob("ensemble.pt")}


def assert_stopped_by_the_disk(
    run_args: list[str], runs: Path, before: dict[Path, str], capsys
) -> None:
    assert before  # checkpoints were written before the disk filled up
    assert main([*run_args, "--n-trials", "20"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1, captured.err
    assert "5 failed trials in a row" in err[0] and "cannot write checkpoint" in err[0]
    assert "No space left on device" in err[0]
    failures = [line for line in captured.out.splitlines() if "failed: cannot write" in line]
    assert len(failures) == 5  # one line per failed trial
    assert {path: digest(path) for path in before} == before  # earlier checkpoints untouched
    assert sorted(runs.rglob("ensemble.pt")) == sorted(before)  # and no new ones
    assert [p for p in runs.rglob("*") if p.name.endswith(".tmp")] == []  # nothing half-written
    records = read_records(optuna.load_study(study_name="tiny", storage=run_args[4]))
    failed = [r for r in records if r.status == "failed"]
    assert len(failed) == 5
    assert all("No space left on device" in r.attrs[attrs.ERROR] for r in failed)
    assert all(attrs.CHECKPOINT not in r.attrs for r in failed)
    trained = [Path(r.attrs[attrs.CHECKPOINT]) for r in records if r.status == "trained"]
    assert sorted(trained) == sorted(before)  # stored before, still stored
    assert [r.number for r in records if r.state == "RUNNING"] == []


def test_a_checkpoint_that_cannot_be_written_fails_the_trial_and_five_stop_the_run(
    tmp_path: Path, run_args: list[str], monkeypatch, capsys
) -> None:
    runs = tmp_path / "runs"
    before = run_until_the_disk_fails(run_args, runs, capsys)
    torch = importlib.import_module("trainers.train.checkpoint").torch  # `trainers.train` is
    real_save = torch.save  # also a function's name

    def disk_full(payload: object, f) -> None:
        real_save(payload, f)  # half a file is on the disk when the disk fills up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    assert_stopped_by_the_disk(run_args, runs, before, capsys)


@contextlib.contextmanager
def tiny_tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder: Path) -> None:
    """Writes until the file system says it is full."""
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as f:  # closing may fail too
        while True:
            f.write(b"\0" * 4096)
            f.flush()


def test_a_full_tmpfs_runs_folder_stops_the_run_and_keeps_what_it_holds(
    tmp_path: Path, run_args: list[str], capsys
) -> None:
    """The runs folder on a real 1 MiB tmpfs (the study stays on the ordinary disk, where
    run_args put it), filled up after the first checkpoint."""
    with tiny_tmpfs(tmp_path / "runs", "1m") as runs:
        before = run_until_the_disk_fails(run_args, runs, capsys)
        fill(runs)
        assert_stopped_by_the_disk(run_args, runs, before, capsys)


def test_an_index_cache_that_cannot_be_written_is_one_warning_and_the_old_one_stays(
    tmp_path: Path, monkeypatch, caplog
) -> None:
    root, cache, classes = (
        make_folder(tmp_path / "data", per_class=2),
        tmp_path / "runs",
        ("a", "b", "c"),
    )
    load_index(root, classes, cache)
    [cached] = cache.glob("index-*.npz")
    before = digest(cached)
    (root / "a" / "000.png").rename(root / "a" / "new.png")  # a changed folder: rewritten
    real_savez = np.savez

    def disk_full(file, **arrays) -> None:
        real_savez(file, **arrays)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("trainers.data.index.np.savez", disk_full)
    with caplog.at_level(logging.WARNING):
        index = load_index(root, classes, cache)
    assert len(index) == 6  # the scan is used, uncached
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "No space left on device" in warnings[0]
    assert digest(cached) == before and sorted(p.name for p in cache.iterdir()) == [cached.name]
