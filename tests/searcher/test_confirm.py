"""`searcher confirm`: further seeds stored per trial, resumable, preferred by export."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pytest

import searcher.run.confirm as confirm_module
from searcher.cli.main import main
from searcher.export.choice import describe_choice, pick_trial, tied_with
from searcher.run.confirm import ConfirmRequest, confirm
from searcher.study import attrs
from searcher.study.records import TrialRecord, read_records
from searcher.study.seeds import paired_test
from searcher.study.tables import divide_rows
from space import Candidate
from trainers.train.cotrain import train


def storage(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def trained(tmp_path: Path) -> list[TrialRecord]:
    study = optuna.load_study(study_name="tiny", storage=storage(tmp_path))
    return [r for r in read_records(study) if r.status == "trained"]


@pytest.mark.slow
def test_confirm_stores_every_seed_against_its_trial(
    tmp_path: Path, run_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*run_args, "--n-trials", "2"]) == 0
    calls: list[tuple[str, int]] = []

    def counting(candidate: Any, data: Any, **kwargs: Any) -> Any:
        calls.append((candidate.id, kwargs["seed"]))
        return train(candidate, data, **kwargs)

    request = ConfirmRequest(storage(tmp_path), "tiny", seeds=1, top=1)
    confirmed = confirm(request, out=lambda line: None, trainer=counting)
    best = max(trained(tmp_path), key=lambda r: r.accuracy)
    assert [r.number for r in confirmed] == [best.number] and len(calls) == 1
    seeds = confirmed[0].attrs[attrs.CONFIRM_SEEDS]
    assert set(seeds) == {"0", "1"} and seeds["0"] == best.accuracy  # its own run counts
    assert confirmed[0].attrs[attrs.CONFIRM_MEAN] == pytest.approx(statistics.fmean(seeds.values()))
    assert confirmed[0].attrs[attrs.CONFIRM_STD] == pytest.approx(statistics.stdev(seeds.values()))
    capsys.readouterr()
    assert main(["frontier", "--storage", storage(tmp_path)]) == 0
    assert f"{confirmed[0].attrs[attrs.CONFIRM_MEAN]:.4f} ± " in capsys.readouterr().out


@dataclass(frozen=True)
class FakeResult:
    val: Any


@dataclass(frozen=True)
class FakeEvaluation:
    accuracy: float


def stored_study(tmp_path: Path) -> None:
    """A study of two trained trials, stored without training anything."""
    study = optuna.create_study(
        storage=storage(tmp_path), study_name="tiny", directions=["maximize", "minimize"]
    )
    study.set_user_attr(attrs.DATA, "digits")
    for number, width in enumerate((2, 4)):
        candidate = Candidate("resnet", 8, width, networks=1, image_size=8, in_channels=1)
        values = {attrs.STATUS: "trained", attrs.CANDIDATE: candidate.to_dict(),
                  attrs.LABEL: candidate.label, attrs.ACCURACY: 0.8 + number / 10,
                  attrs.GFLOPS: 0.001 * (number + 1), attrs.SEED: 0}  # fmt: skip
        study.add_trial(
            optuna.trial.create_trial(
                params={}, distributions={}, values=[values[attrs.ACCURACY], values[attrs.GFLOPS]],
                user_attrs=values,
            )
        )  # fmt: skip


def test_an_interrupted_confirmation_resumes_without_training_a_run_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored_study(tmp_path)
    calls: list[tuple[str, int]] = []
    interrupted: list[bool] = []

    def fake(candidate: Any, data: Any, *, seed: int, **kwargs: Any) -> FakeResult:
        if len(calls) == 3 and not interrupted:  # Ctrl-C during the fourth run
            interrupted.append(True)
            raise KeyboardInterrupt
        calls.append((candidate.id, seed))
        return FakeResult(FakeEvaluation(0.5 + seed / 100))

    monkeypatch.setattr(confirm_module, "train", fake)
    command = ["confirm", "--storage", storage(tmp_path), "--study", "tiny", "--seeds", "3"]
    assert main(command) == 130 and len(calls) == 3
    assert main(command) == 0
    assert len(calls) == len(set(calls)) == 2 * 3  # two front trials x three seeds, each once
    assert main(command) == 0 and len(calls) == 6  # all stored: nothing to train
    for record in trained(tmp_path):
        assert set(record.attrs[attrs.CONFIRM_SEEDS]) == {"0", "1", "2", "3"}
        assert record.attrs[attrs.CONFIRM_SEEDS]["3"] == 0.53


def test_confirm_refuses_trials_that_do_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stored_study(tmp_path)
    command = ["confirm", "--storage", storage(tmp_path), "--study", "tiny", "--trials", "0,99"]
    assert main(command) == 2
    assert "no trial 99" in capsys.readouterr().err


def record(number: int, accuracy: float, mean: float | None = None) -> TrialRecord:
    values: dict[str, Any] = {attrs.ACCURACY: accuracy, attrs.GFLOPS: 0.001, attrs.CHECKPOINT: "x"}
    if mean is not None:
        seeds = {"0": accuracy, "1": 2 * mean - accuracy}  # two seeds with that mean
        values |= {attrs.CONFIRM_SEEDS: seeds, attrs.CONFIRM_MEAN: mean}
    return TrialRecord(number, "COMPLETE", "trained", values)


def test_export_best_chooses_on_seed_means_and_says_when_it_is_a_tie() -> None:
    records = [record(0, 0.99, mean=0.95), record(1, 0.96), record(2, 0.97, mean=0.975)]
    chosen = pick_trial(records, None, None)
    assert chosen.number == 2  # trial 0's lucky 0.99 is a 0.95 mean over its seeds
    ties = tied_with(records, chosen, None)
    assert [r.number for r in ties] == [0, 1]  # trial 0's seeds differ by 8 points: wide spread
    lines = describe_choice(chosen, ties)
    assert "trial 2, mean accuracy 0.9750" in lines[0] and "the choice is a tie" in lines[1]
    far = [record(0, 0.99), record(1, 0.90)]
    assert tied_with(far, pick_trial(far, None, None), None) == []


def test_paired_test_over_shared_seeds() -> None:
    a = {"0": 0.90, "1": 0.91, "2": 0.89, "3": 0.90}
    clearly_better = {"0": 0.95, "1": 0.97, "2": 0.94, "3": 0.96}
    noise = {"0": 0.91, "1": 0.90, "2": 0.90, "3": 0.89}
    test = paired_test(a, clearly_better)
    assert test is not None and test.seeds == 4 and test.beyond_seed_spread
    assert test.mean_difference == pytest.approx(0.055)
    assert not paired_test(a, noise).beyond_seed_spread  # type: ignore[union-attr]
    assert paired_test(a, {"7": 0.9}) is None  # no shared seed
    assert not paired_test({"0": 0.9}, {"0": 0.99}).beyond_seed_spread  # type: ignore[union-attr]


def test_divide_rows_compare_each_divided_network_with_its_single_one() -> None:
    def confirmed(number: int, networks: int, seeds: dict[str, float]) -> TrialRecord:
        candidate = Candidate("resnet", 8, 16, networks=networks, image_size=8, in_channels=1)
        values = {attrs.CANDIDATE: candidate.to_dict(), attrs.LABEL: candidate.label,
                  attrs.CONFIRM_SEEDS: seeds}  # fmt: skip
        return TrialRecord(number, "COMPLETE", "trained", values)

    single = confirmed(0, 1, {"0": 0.90, "1": 0.91, "2": 0.89})
    better = confirmed(1, 2, {"0": 0.95, "1": 0.97, "2": 0.94})
    same = confirmed(2, 4, {"0": 0.91, "1": 0.90, "2": 0.90})
    rows = divide_rows([single, better, same])
    assert [(r["trial"], r["verdict"]) for r in rows] == [
        (1, "beyond the seed spread"),
        (2, "within the seed spread"),
    ]
    assert divide_rows([better, same]) == []  # no confirmed S=1 network to compare with
