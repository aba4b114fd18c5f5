from __future__ import annotations

from pathlib import Path

import pytest
import torch

from space import Candidate, Recipe
from trainers import StopTraining, load_checkpoint, load_data, save_checkpoint, train
from trainers.train.evaluate import evaluate

RECIPE = Recipe(epochs=3, batch_size=64, lr=0.05, warmup_epochs=0.5, js_warmup_epochs=1,
                augmentation="crop")  # fmt: skip


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


def tiny(networks: int = 2, **recipe: object) -> Candidate:
    return Candidate("resnet", 8, 8, networks=networks, image_size=8, in_channels=1,
                     recipe=RECIPE if not recipe else Recipe(**{**RECIPE.to_dict(), **recipe}))  # fmt: skip


def test_cotraining_on_digits_lowers_the_loss_and_beats_chance(digits) -> None:
    result = train(tiny(2), digits, seed=0)
    losses = [r.train_loss for r in result.history]
    assert len(losses) == 3 and losses[-1] < 0.6 * losses[0]
    assert result.val.accuracy > 0.6  # chance is 0.1
    assert len(result.val.member_accuracies) == 2
    assert all(acc > 0.3 for acc in result.val.member_accuracies)
    assert all(r.js > 0 for r in result.history)
    assert result.stopped_by == "completed" and result.images_per_s > 0


def test_independent_mode_has_no_cotraining_term(digits) -> None:
    result = train(tiny(2, mode="independent", epochs=1), digits, seed=0)
    assert [r.js for r in result.history] == [0.0]
    a, b = result.ensemble.members
    assert not torch.equal(a.stem[0].weight, b.stem[0].weight)  # different seeds


def test_a_seed_repeats_a_cpu_run_exactly(digits) -> None:
    first = train(tiny(2, epochs=1), digits, seed=7)
    second = train(tiny(2, epochs=1), digits, seed=7)
    other = train(tiny(2, epochs=1), digits, seed=8)
    assert first.history[0].train_loss == second.history[0].train_loss
    assert first.val == second.val
    assert other.history[0].train_loss != first.history[0].train_loss


def test_callbacks_see_every_epoch_and_can_stop_training(digits) -> None:
    seen = []

    def stop_after_two(report) -> None:
        seen.append((report.epoch, report.val.accuracy))
        if report.epoch == 2:
            raise StopTraining

    result = train(tiny(1), digits, callbacks=[stop_after_two])
    assert [epoch for epoch, _ in seen] == [1, 2]
    assert result.stopped_by == "callback" and len(result.history) == 2


class StepClock:
    """A clock that advances one second each time it is read: time-limit tests that behave the
    same on any machine."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def steps_per_epoch(digits, batch_size: int = RECIPE.batch_size) -> int:
    return max(1, len(digits.train.labels) // batch_size)


def test_wall_clock_limit_stops_training(digits) -> None:
    steps = steps_per_epoch(digits)  # one clock read per step, one per epoch report
    limit = steps + 1 + steps // 2  # runs out in the middle of epoch 2
    result = train(tiny(1, epochs=50, time_limit_s=limit), digits, clock=StepClock())
    assert result.stopped_by == "time_limit"
    assert [r.epoch for r in result.history] == [1, 2]
    assert [r.final for r in result.history] == [False, True]


def test_a_stopper_is_told_the_effective_last_epoch_and_never_prunes_it(digits) -> None:
    """A run cut by its time limit ends on an epoch before the recipe's last; pruning it there
    would throw away a finished trial (its checkpoint and its place on the front)."""
    from searcher.run.pruning import CostBucketMedianStopper
    from searcher.study.records import TrialRecord

    peers = [
        TrialRecord(n, "COMPLETE", "trained", {"curve": [1.0] * 5, "gflops": 1e-4})
        for n in range(3)
    ]  # every peer was perfect at every epoch: this run is below their median from epoch 2
    stopper = CostBucketMedianStopper(1e-4, peers, min_epoch=2)
    steps = steps_per_epoch(digits)
    limit = steps + 1 + steps // 2
    result = train(
        tiny(1, epochs=5, time_limit_s=limit), digits, callbacks=[stopper], clock=StepClock()
    )
    assert result.stopped_by == "time_limit" and stopper.stopped_at is None
    assert len(result.history) == 2


def test_a_stopper_prunes_before_the_last_epoch(digits) -> None:
    from searcher.run.pruning import CostBucketMedianStopper
    from searcher.study.records import TrialRecord

    peers = [
        TrialRecord(n, "COMPLETE", "trained", {"curve": [1.0] * 5, "gflops": 1e-4})
        for n in range(3)
    ]
    stopper = CostBucketMedianStopper(1e-4, peers, min_epoch=1)
    result = train(tiny(1, epochs=3), digits, callbacks=[stopper])
    assert result.stopped_by == "callback" and stopper.stopped_at == 1


def test_checkpoint_round_trip_rebuilds_the_same_ensemble(digits, tmp_path: Path) -> None:
    candidate = tiny(2, epochs=1)
    result = train(candidate, digits)
    path = save_checkpoint(tmp_path / "ckpt" / "model.pt", candidate, result.ensemble)
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary left
    loaded_candidate, ensemble = load_checkpoint(path)
    assert loaded_candidate == candidate
    inputs = digits.normalise(digits.val.resized(8))
    assert evaluate(ensemble, inputs, digits.val.labels) == result.val
