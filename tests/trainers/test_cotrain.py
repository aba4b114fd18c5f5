from __future__ import annotations

from pathlib import Path

import pytest
import torch

from space import Candidate, Recipe
from trainers import StopTraining, load_checkpoint, load_data, save_checkpoint, train
from trainers.evaluate import evaluate

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


def test_wall_clock_limit_stops_training(digits) -> None:
    result = train(tiny(1, epochs=50, time_limit_s=0.5), digits)
    assert result.stopped_by == "time_limit"
    assert len(result.history) < 50


def test_checkpoint_round_trip_rebuilds_the_same_ensemble(digits, tmp_path: Path) -> None:
    candidate = tiny(2, epochs=1)
    result = train(candidate, digits)
    path = save_checkpoint(tmp_path / "ckpt" / "model.pt", candidate, result.ensemble)
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary left
    loaded_candidate, ensemble = load_checkpoint(path)
    assert loaded_candidate == candidate
    inputs = digits.normalise(digits.val.resized(8))
    assert evaluate(ensemble, inputs, digits.val.labels) == result.val
