"""`--devices-per-trial`: a trial on two CPU processes is stored as a one-process trial is, and
asking for more devices than there are is one clear line."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest
import torch

from searcher.cli.main import main
from searcher.study import attrs
from searcher.study.records import read_records


@pytest.fixture(autouse=True)
def keep_threads():
    """A one-worker pool runs in this process and sets its thread count (one per rank here).
    Spawning the ranks also starts multiprocessing's resource tracker in this process, which
    would outlive the session's check for stray processes (tests/conftest.py): stopped after."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
    from multiprocessing import resource_tracker

    resource_tracker._resource_tracker._stop()


def run_in(directory: Path, run_args: list[str], *extra: str) -> int:
    """`searcher run` with its own storage and runs directory under `directory`."""
    args = list(run_args)
    args[args.index("--storage") + 1] = f"sqlite:///{directory / 'study.db'}"
    args[args.index("--runs-dir") + 1] = str(directory / "runs")
    return main([*args, "--n-trials", "1", *extra])


def trained_attrs(directory: Path) -> list[dict]:
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{directory / 'study.db'}")
    return [r.attrs for r in read_records(study) if r.status == "trained"]


@pytest.mark.slow
def test_a_trial_on_two_cpu_processes_stores_the_attributes_of_one(
    tmp_path: Path, run_args: list[str], tiny_space: Path
) -> None:
    space = tiny_space.read_text()
    tiny_space.write_text(space.replace("networks: [1, 2]", "networks: [2]"))  # one reference
    assert run_in(tmp_path / "pair", run_args, "--devices-per-trial", "2") == 0
    assert run_in(tmp_path / "alone", run_args) == 0
    [pair], [alone] = trained_attrs(tmp_path / "pair"), trained_attrs(tmp_path / "alone")
    assert set(pair) == set(alone)
    assert pair[attrs.CANDIDATE_ID] == alone[attrs.CANDIDATE_ID] and pair[attrs.EPOCHS_RUN] == 1
    assert Path(pair[attrs.CHECKPOINT]).is_file()


def test_more_devices_per_trial_than_cores_is_one_line(
    tmp_path: Path, run_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    cores = os.cpu_count() or 1
    assert main([*run_args, "--devices-per-trial", str(cores + 1)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"searcher: error: --devices-per-trial {cores + 1} needs {cores + 1} devices; this "
        f"machine has {cores} CPU core(s) and no --devices"
    )
    assert not (tmp_path / "study.db").exists()


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1", "auto"])
def test_a_worker_without_devices_trains_where_device_says(device: str) -> None:
    """`searcher run --device cuda` with no --devices: every worker's trials go to that device
    (each trial used to be placed on the CPU whatever --device said)."""
    from searcher.run.config import SearchConfig
    from searcher.run.workers import trial_slots, worker_configs
    from space.search_space import load_space

    config = SearchConfig(space=load_space("digits"), device=device)
    slots = trial_slots(config, [], cpu_workers=2)
    assert slots == [(device,), (device,)]
    assert [c.devices for c in worker_configs(config, 4, slots)] == [(device,), (device,)]
