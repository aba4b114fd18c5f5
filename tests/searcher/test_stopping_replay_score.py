"""The replay benchmark scores the front a search reports at the truth (benchmarks/efficiency_score.py)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

from searcher.study.contest import Point

# benchmarks/ is no package: load the module from its file, leaving sys.path alone.
_spec = importlib.util.spec_from_file_location(
    "efficiency_score", Path(__file__).resolve().parents[2] / "benchmarks" / "efficiency_score.py"
)
assert _spec is not None and _spec.loader is not None
es = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = es  # dataclasses look their module up there
_spec.loader.exec_module(es)
Sample, at_budget, epochs_to_reach = es.Sample, es.at_budget, es.epochs_to_reach
hypervolume, score, true_front = es.hypervolume, es.score, es.true_front

# key: (true mean accuracy, log10 cost). 0 and 2 make the true front; 1 is dominated by 0.
TRUTH = {0: (0.90, 0.0), 1: (0.85, 0.5), 2: (0.95, 1.0), 3: (0.80, 2.0)}
REF = (0.80, 2.0)


def test_a_lucky_seed_is_reported_but_scored_at_its_true_mean() -> None:
    assert true_front(TRUTH) == {0, 2}
    # One seed of 1 ran high (0.97), hiding 2 (one seed at 0.93) behind it on the reported front.
    points = [Point(0, 0.0, (0.90,)), Point(1, 0.5, (0.97,)), Point(2, 1.0, (0.93,))]
    sample = score(points, TRUTH, true_front(TRUTH), REF, epochs=30)
    assert sample.on_front == pytest.approx(1 / 2)  # reported: 0 and 1; only 0 is truly on it
    assert sample.overstatement == pytest.approx(((0.90 - 0.90) + (0.97 - 0.85)) / 2)
    assert sample.hypervolume == pytest.approx(hypervolume([TRUTH[0], TRUTH[1]], REF))
    assert sample.hypervolume < hypervolume([TRUTH[0], TRUTH[2]], REF)


def test_reach_is_the_first_sample_at_the_level_and_the_budget_takes_the_last_within() -> None:
    trace = [Sample(0, 0.0, 0, 0), Sample(10, 0.5, 1, 0), Sample(20, 0.99, 1, 0),
             Sample(30, 0.9, 1, 0)]  # fmt: skip
    assert epochs_to_reach(trace, 0.99) == 20
    assert math.isinf(epochs_to_reach(trace, 1.0))
    assert at_budget(trace, 25).epochs == 20 and at_budget(trace, 30).hypervolume == 0.9
