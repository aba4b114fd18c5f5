from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from searcher.cli.main import main
from searcher.study import attrs
from searcher.study.frontier import pareto_front
from searcher.study.records import read_records
from space import Candidate
from space.cost import estimate
from tests.conftest import TrainedStudy
from trainers import load_checkpoint
from trainers.measure.latency import LatencyTable

pytestmark = pytest.mark.slow  # searches, a Ctrl-C to a real process

TRAINED_ATTRS = {
    attrs.STATUS, attrs.CANDIDATE, attrs.CANDIDATE_ID, attrs.LABEL, attrs.ACCURACY,
    attrs.MEMBER_ACCURACIES, attrs.VAL_LOSS, attrs.TEST_ACCURACY, attrs.CURVE, attrs.GFLOPS,
    attrs.MEMBER_GFLOPS, attrs.PARAMS_M, attrs.LATENCY, attrs.LATENCY_MS, attrs.TRAIN_SECONDS,
    attrs.IMAGES_PER_S, attrs.EPOCHS_RUN, attrs.STOPPED_BY, attrs.DEVICE, attrs.CHECKPOINT, attrs.SEED,
}  # fmt: skip


def load(tmp_path: Path) -> optuna.Study:
    return optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'study.db'}")


def shared(tiny_study: TrainedStudy) -> optuna.Study:
    return optuna.load_study(study_name=tiny_study.name, storage=tiny_study.storage)


def test_tiny_search_stores_the_documented_attributes(tiny_study: TrainedStudy) -> None:
    out = tiny_study.output  # `searcher run --n-trials 3`, shared with tests that only read
    assert "[trial 0]" in out and "epoch 1/1" in out and "Pareto front" in out
    records = read_records(shared(tiny_study))
    trained = [r for r in records if r.status == "trained"]
    assert len(trained) == 3
    # The anchor (the cheapest candidate) first; the space's reference points, the paper's S
    # comparison, in the run's last slots (`--references last`, the default).
    assert [(r.candidate["width"], r.candidate["networks"]) for r in trained] == [
        (2, 2),
        (4, 1),
        (4, 2),
    ]
    for record in trained:
        assert set(record.attrs) >= TRAINED_ATTRS
        candidate = Candidate.from_dict(record.candidate)
        assert record.attrs[attrs.GFLOPS] == pytest.approx(estimate(candidate).gflops)
        assert len(record.attrs[attrs.MEMBER_ACCURACIES]) == candidate.networks
        assert {row["mode"] for row in record.attrs[attrs.LATENCY]["rows"]} == {
            "sequential", "concurrent", "fused", "undivided", "slowest_member"
        }  # fmt: skip
        table = LatencyTable.from_dict(record.attrs[attrs.LATENCY])
        assert record.attrs[attrs.LATENCY_MS] == table.fastest(1).median_ms
        assert record.attrs[attrs.LATENCY_MODE] == table.fastest(1).mode
        assert record.attrs[attrs.LATENCY_LAYOUT] == table.fastest(1).layout
        loaded, ensemble = load_checkpoint(record.attrs[attrs.CHECKPOINT])
        assert loaded == candidate and len(ensemble) == candidate.networks
    study = shared(tiny_study)
    assert study.user_attrs[attrs.SPACE_FINGERPRINT]
    assert [t.values[0] for t in study.trials if t.state.name == "COMPLETE"] == [
        r.accuracy for r in trained
    ]


def test_latency_timed_in_onnxruntime_is_stored_tagged_and_joiners_use_it(
    tmp_path: Path, run_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--latency-runtime onnxruntime: every trial's table comes from the exported graphs in
    ONNX Runtime (tagged so), the objective reads it, and a worker joining the study times
    the same way."""
    from searcher.run.workers import config_from_study

    assert main([*run_args, "--n-trials", "2", "--latency-runtime", "onnxruntime"]) == 0
    assert "timed in onnxruntime" in capsys.readouterr().out
    trained = [r for r in read_records(load(tmp_path)) if r.status == "trained"]
    assert len(trained) == 2
    for record in trained:
        table = LatencyTable.from_dict(record.attrs[attrs.LATENCY])
        assert table.runtime.startswith("onnxruntime ")
        assert record.attrs[attrs.LATENCY_MS] == table.fastest(1).median_ms
    joiner = config_from_study(run_args[4], "tiny")
    assert joiner.latency_runtime == "onnxruntime"


def test_infeasible_candidates_are_recorded_but_never_trained(
    tmp_path: Path, run_args: list[str]
) -> None:
    budget = estimate(Candidate("resnet", 8, 4, networks=1, image_size=8, in_channels=1)).gflops
    assert main([*run_args, "--n-trials", "2", "--budget-gflops", f"{budget * 1.01}"]) == 0
    records = read_records(load(tmp_path))
    infeasible = [r for r in records if r.status == "infeasible"]
    trained = [r for r in records if r.status == "trained"]
    assert len(trained) == 2 and infeasible  # the S=2 reference is over this budget
    for record in infeasible:
        assert record.attrs[attrs.GFLOPS] > budget * 1.01
        assert attrs.ACCURACY not in record.attrs and attrs.CHECKPOINT not in record.attrs
        assert "GFLOPs >" in record.attrs[attrs.OVER_BUDGET][0]
    assert all(r.attrs[attrs.GFLOPS] <= budget * 1.01 for r in trained)
    study = load(tmp_path)
    assert all(
        t.constraints["budget"] > 0
        for t in study.trials
        if t.user_attrs[attrs.STATUS] == "infeasible"
    )


def test_rerun_resumes_and_adds_trials(tmp_path: Path, run_args: list[str]) -> None:
    assert main([*run_args, "--n-trials", "2"]) == 0
    first = {r.number: r.attrs for r in read_records(load(tmp_path)) if r.state != "WAITING"}
    assert main([*run_args, "--n-trials", "2"]) == 0
    second = read_records(load(tmp_path))
    assert sum(r.status in ("trained", "duplicate") for r in second) >= 4
    assert sum(r.status == "trained" for r in second) == 4
    for record in second:  # nothing finished before was changed (the queued anchor trains now)
        if record.number in first:
            assert record.attrs == first[record.number]


def test_frontier_prints_the_same_pareto_set(
    tiny_study: TrainedStudy, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["frontier", "--storage", tiny_study.storage]) == 0
    out = capsys.readouterr().out
    front = pareto_front(read_records(shared(tiny_study)))
    assert f"{len(front)} on the accuracy-gflops front" in out
    printed = [int(line.split()[0]) for line in out.splitlines()[3:] if line.strip()]
    assert printed == [r.number for r in front]


def test_config_file_sets_options_and_the_command_line_wins(
    tmp_path: Path, run_args: list[str]
) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("n-trials: 1\nseed: 3\n")
    assert main([*run_args, "--config", str(config), "--seed", "5"]) == 0
    trained = [r for r in read_records(load(tmp_path)) if r.status == "trained"]
    # n-trials 1 from the file, but a study never stops before its two references are trained
    assert len(trained) == 2 and {r.attrs[attrs.SEED] for r in trained} == {5}


def test_ctrl_c_marks_the_trial_failed_and_a_rerun_trains_the_reference_first(
    tmp_path: Path, run_args: list[str]
) -> None:
    space = Path(run_args[2])  # 8 epochs: still training when its first epoch is reported
    space.write_text(space.read_text().replace("epochs: 1,", "epochs: 8,"))
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    first = ["--references", "first"]  # the run's first trial is a reference
    command = [sys.executable, "-m", "searcher.cli.main", *run_args, "--n-trials", "2", *first]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        for line in proc.stdout:  # wait until the first trial (a reference) trains
            if "epoch 1/" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    study = load(tmp_path)
    assert [t.state.name for t in study.trials if t.state.is_finished()] == ["FAIL"]
    interrupted = study.trials[0]
    assert interrupted.user_attrs[attrs.ERROR] == "interrupted"
    assert interrupted.user_attrs[attrs.REFERENCE] is True

    assert main([*run_args, "--n-trials", "1", *first]) == 0  # the references alone exceed it
    records = read_records(load(tmp_path))
    trained = [r for r in records if r.status == "trained"]
    assert [r.status for r in records if r.status in ("failed", "trained")] == [
        "failed", "trained", "trained"
    ]  # fmt: skip
    retry = next(r for r in trained if r.attrs.get(attrs.RETRY_OF) == 0)
    assert retry.attrs[attrs.CANDIDATE_ID] == interrupted.user_attrs[attrs.CANDIDATE_ID]
    assert {(r.candidate["width"], r.candidate["networks"]) for r in trained} == {(4, 1), (4, 2)}
