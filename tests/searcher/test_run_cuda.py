"""`searcher run --device cuda` end to end, where CUDA exists (skipped elsewhere, with the reason):
the trial trains and is timed on the GPU, and its checkpoint loads on a machine without one."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch

from searcher.cli.main import main
from searcher.study import attrs
from searcher.study.records import read_records
from trainers import load_checkpoint

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_a_search_on_cuda_trains_and_times_there(tmp_path: Path, run_args: list[str]) -> None:
    assert main([*run_args, "--device", "cuda", "--n-trials", "2"]) == 0
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'study.db'}")
    trained = [r.attrs for r in read_records(study) if r.status == "trained"]
    assert len(trained) == 2
    for record in trained:
        assert record[attrs.DEVICE] == torch.cuda.get_device_name()  # trained there
        assert record[attrs.LATENCY]["device"] == torch.cuda.get_device_name()  # timed there
        candidate, ensemble = load_checkpoint(record[attrs.CHECKPOINT])
        assert candidate.to_dict() == record[attrs.CANDIDATE]
        assert all(p.device.type == "cpu" for p in ensemble.parameters())
