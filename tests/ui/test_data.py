from __future__ import annotations

import pytest

from searcher.study.frontier import pareto_front
from tests.conftest import TrainedStudy
from ui.data import COST_AXES, front_numbers, load_records, series_of, study_names, to_frame


def test_series_of_each_kind_of_candidate() -> None:
    assert series_of({"networks": 1}) == "single network"
    assert series_of({"networks": 2, "recipe": {"mode": "cotrain"}}) == "divided, co-trained"
    assert series_of({"networks": 4, "recipe": {"mode": "independent"}}) == "independent ensemble"
    assert series_of({"members": [{}, {}]}) == "heterogeneous ensemble"


@pytest.mark.slow
def test_frame_and_front_come_from_the_stored_study(tiny_study: TrainedStudy) -> None:
    storage = tiny_study.storage
    assert study_names(storage) == ["tiny"]
    records = load_records(storage, "tiny")
    frame = to_frame(records, "tiny")
    assert len(frame) == len(records)
    trained = frame[frame["status"] == "trained"]
    assert trained["accuracy"].notna().all() and trained["latency_concurrent_b1"].gt(0).all()
    for cost in COST_AXES.values():  # one Pareto function for the CLI and the dashboard
        assert front_numbers(records, cost) == [r.number for r in pareto_front(records, cost)]
