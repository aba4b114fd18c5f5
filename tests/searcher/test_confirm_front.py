"""The front on seed means: what `searcher frontier`, the final table and export state."""

from __future__ import annotations

from typing import Any

import pytest

from searcher.study import attrs
from searcher.study.frontier import front_summary, front_view, pareto_front, seed_points
from searcher.study.records import TrialRecord, with_confirmations
from searcher.study.seeds import confirmation_key
from searcher.study.tables import frontier_rows


def trained(number: int, gflops: float, accuracy: float) -> TrialRecord:
    values: dict[str, Any] = {attrs.ACCURACY: accuracy, attrs.GFLOPS: gflops,
                              attrs.PARAMS_M: gflops, attrs.SEED: 0}  # fmt: skip
    return TrialRecord(number, "COMPLETE", "trained", values)


RECORDS = [
    trained(0, 1.0, 0.90),
    trained(1, 2.0, 0.97),
    trained(2, 3.0, 0.96),
    trained(3, 4.0, 0.99),
]


def test_a_lucky_first_run_leaves_the_front_once_its_seeds_say_so() -> None:
    assert [r.number for r in pareto_front(RECORDS)] == [0, 1, 3]
    seeds = {confirmation_key(3): {"0": 0.99, "1": 0.94, "2": 0.95}}  # mean 0.96
    confirmed = with_confirmations(RECORDS, seeds)
    assert [r.number for r in pareto_front(confirmed)] == [0, 1]
    assert [p.accuracies for p in seed_points(confirmed) if p.key == 3] == [(0.99, 0.94, 0.95)]


def test_the_view_states_the_spread_and_the_ties() -> None:
    view = front_view(RECORDS)  # no seeds yet: the prior spread, 0.4 in log(1 - accuracy)
    assert view.spread == pytest.approx(0.4)
    assert view.ties[1] == (2, 3) and 0 not in view.ties  # 0 is 7 points below 1: resolved
    rows = frontier_rows(view.front, view)
    assert rows[1]["accuracy"] == "0.9700 ± 0.0120" and rows[1]["seeds"] == 1  # 0.4 * 0.03
    assert rows[1]["tie with"] == "#2 #3" and rows[0]["tie with"] == ""
    summary = front_summary(view, attrs.GFLOPS)
    assert [t["trial"] for t in summary["trials"]] == [0, 1, 3]  # type: ignore[index]
