"""Execution options of the recipe: ids unchanged at their defaults, channels-last, compile."""

from __future__ import annotations

import logging

import pytest
import torch

from space import Candidate, ConfigError, Recipe
from trainers import load_data, train
from trainers.data import DataSource

RECIPE = Recipe(epochs=1, batch_size=64, lr=0.05, warmup_epochs=0, js_warmup_epochs=1,
                augmentation="crop")  # fmt: skip


@pytest.fixture(scope="module")
def digits() -> DataSource:
    """A quarter of digits: enough for a few steps."""
    full = load_data("digits")
    subset = [s.subset(torch.arange(0, len(s), 4)) for s in (full.train, full.val)]
    return DataSource("digits", *subset, None, full.class_names)


def tiny(**recipe: object) -> Candidate:
    return Candidate("resnet", 8, 4, networks=2, image_size=8, in_channels=1,
                     recipe=Recipe(**{**RECIPE.to_dict(), **recipe}))  # fmt: skip


def test_execution_options_at_their_defaults_leave_the_candidate_id_unchanged() -> None:
    plain = tiny()
    assert "memory_format" not in plain.recipe.to_dict() and "compile" not in plain.recipe.to_dict()
    assert tiny(memory_format="contiguous", compile="off").id == plain.id
    fast = tiny(memory_format="channels_last", compile="default")
    assert fast.id != plain.id and Candidate.from_json(fast.to_json()) == fast
    with pytest.raises(ConfigError, match="recipe compile 'yes' is not allowed"):
        Recipe(compile="yes")  # type: ignore[arg-type]


def test_channels_last_is_ignored_on_the_cpu_and_runs_are_repeatable(digits: DataSource) -> None:
    plain = train(tiny(), digits, seed=1)
    last = train(tiny(memory_format="channels_last"), digits, seed=1)
    assert last.history[0].train_loss == plain.history[0].train_loss
    weight = next(p for p in last.ensemble.parameters() if p.ndim == 4 and p.shape[1] > 1)
    assert not weight.is_contiguous(memory_format=torch.channels_last)


def test_a_compile_failure_falls_back_to_eager_with_one_warning(
    digits: DataSource, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("inductor: no C++ compiler\nlong details")

    monkeypatch.setattr(torch, "compile", lambda module, mode=None: Broken())
    with caplog.at_level(logging.WARNING):
        result = train(tiny(compile="default"), digits, seed=1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "torch.compile failed (RuntimeError: inductor: no C++ compiler); training eagerly"
    ]
    assert result.stopped_by == "completed" and len(result.history) == 1
