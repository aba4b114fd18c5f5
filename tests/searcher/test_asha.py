"""The MO-ASHA promotion rule on hand-made rung tables: nothing is trained."""

from __future__ import annotations

import math

import optuna
import pytest

from searcher.cli.main import build_parser
from searcher.cli.options import search_config
from searcher.run.asha import (
    AshaStopper,
    RungEntry,
    crowding_distances,
    nondominated_fronts,
    promoted,
    rung_epochs,
)
from searcher.run.objective import record_curve
from searcher.study import attrs
from searcher.study.records import TrialRecord, read_records
from space.errors import ConfigError
from space.search_space import load_space
from trainers.train.cotrain import EpochReport, StopTraining
from trainers.train.evaluate import Evaluation


def entry(key: int, accuracy: float, cost: float) -> RungEntry:
    return RungEntry(key, accuracy, cost)


def test_rungs_divide_the_full_recipe_by_powers_of_eta() -> None:
    assert rung_epochs(300, eta=3, min_epochs=1) == [1, 3, 11, 33, 100]
    assert rung_epochs(300, eta=3, min_epochs=5) == [11, 33, 100]
    assert rung_epochs(6, eta=3, min_epochs=2) == [2]
    assert rung_epochs(6, eta=2, min_epochs=1) == [1, 3]
    assert rung_epochs(2, eta=3) == []  # never the last epoch, never epoch 0


def test_nondominated_sorting_peels_pareto_fronts() -> None:
    table = [entry(0, 0.9, 1.0), entry(1, 0.8, 0.0), entry(2, 0.7, 0.5), entry(3, 0.6, 2.0)]
    fronts = [sorted(e.key for e in front) for front in nondominated_fronts(table)]
    assert fronts == [[0, 1], [2], [3]]


def test_crowding_distance_is_infinite_at_the_ends_and_normalised_inside() -> None:
    front = [entry(0, 0.9, 1.0), entry(1, 0.8, 0.5), entry(2, 0.5, 0.0)]
    distance = crowding_distances(front)
    assert distance[0] == distance[2] == math.inf
    assert distance[1] == pytest.approx((0.9 - 0.5) / 0.4 + (1.0 - 0.0) / 1.0)


def test_top_third_by_front_then_crowding_continues() -> None:
    # Six trials: the first front has two points (a cheap one and an accurate one), so with
    # eta = 3 exactly those two continue; everything dominated stops.
    table = [
        entry(0, 0.95, 2.0), entry(1, 0.70, -1.0), entry(2, 0.90, 2.5),
        entry(3, 0.60, 0.0), entry(4, 0.85, 2.2), entry(5, 0.50, 1.0),
    ]  # fmt: skip
    assert [k for k in range(6) if promoted(table, k, eta=3)] == [0, 1]


def test_crowding_distance_breaks_ties_within_a_front() -> None:
    # One front of four points, top 6 // 3 = 2 of six: the two ends (infinite crowding) continue,
    # the interior points stop, even though no one dominates them.
    table = [
        entry(0, 0.9, 3.0), entry(1, 0.85, 2.0), entry(2, 0.8, 1.0), entry(3, 0.5, 0.0),
        entry(4, 0.4, 2.5), entry(5, 0.3, 2.9),
    ]  # fmt: skip
    assert [k for k in range(6) if promoted(table, k, eta=3)] == [0, 3]
    # With three ends-and-middle in front 0 and top 9 // 3 = 3: the middle point with the
    # larger gap to its neighbours beats the one in a crowded region.
    table = [
        entry(0, 0.9, 3.0), entry(1, 0.89, 2.9), entry(2, 0.6, 1.0), entry(3, 0.5, 0.0),
        *(entry(k, 0.1, 5.0 + k) for k in range(4, 9)),
    ]  # fmt: skip
    assert [k for k in range(9) if promoted(table, k, eta=3)] == [0, 2, 3]


def test_identical_points_at_the_cut_all_continue() -> None:
    # Two identical trials share rank 1 behind the best; with top 6 // 3 = 2 both continue.
    table = [entry(0, 0.9, 0.0), entry(1, 0.8, 1.0), entry(2, 0.8, 1.0)]
    table += [entry(k, 0.1, 2.0 + k) for k in range(3, 6)]
    assert [k for k in range(6) if promoted(table, k, eta=3)] == [0, 1, 2]


def test_fewer_than_eta_trials_at_a_rung_always_continue() -> None:
    table = [entry(0, 0.99, 0.0), entry(1, 0.1, 5.0)]
    assert promoted(table, 1, eta=3)
    assert not promoted([*table, entry(2, 0.5, 1.0)], 1, eta=3)


def report(epoch: int, accuracy: float, epochs: int = 6) -> EpochReport:
    return EpochReport(epoch, epochs, 1.0, 0.0, Evaluation(accuracy, (accuracy,), 1.0, 100), 1.0)


def record(number: int, gflops: float, curve: list[float], status: str) -> TrialRecord:
    return TrialRecord(number, "COMPLETE", status, {attrs.GFLOPS: gflops, attrs.CURVE: curve})


PEERS = [
    record(0, 0.001, [0.5, 0.9, 0.95], "trained"),
    record(1, 0.01, [0.5, 0.8], "pruned"),
    record(2, 0.0001, [0.5, 0.85, 0.9], "running"),  # still training: on the rung all the same
    record(3, 0.00001, [0.9, 0.99], "duplicate"),  # a copy of another trial's curve: not judged
    record(4, 0.00001, [0.9], "running"),  # has not reached epoch 2 yet
]


def test_stopper_judges_at_rungs_only_against_trials_that_reached_them() -> None:
    stopper = AshaStopper(0.005, PEERS, eta=3, min_epochs=2, number=9)
    assert [e.key for e in stopper.rung_table(2)] == [0, 1, 2]
    stopper(report(1, 0.1))  # not a rung
    with pytest.raises(StopTraining):  # dominated by trial 0 (more accurate and cheaper)
        stopper(report(2, 0.7))
    assert stopper.stopped_at == 2
    AshaStopper(0.005, PEERS, number=9)(report(2, 0.95))  # on the first front: continues


def test_stopper_rereads_the_records_at_each_rung_and_never_stops_a_final_epoch() -> None:
    calls: list[int] = []

    def source() -> list[TrialRecord]:
        calls.append(1)
        return PEERS

    stopper = AshaStopper(0.005, source, number=9)
    stopper(report(1, 0.1))
    assert calls == []  # no rung, no read
    with pytest.raises(StopTraining):
        stopper(report(2, 0.1))
    assert calls == [1]
    AshaStopper(0.005, PEERS, min_epochs=1)(report(2, 0.1, epochs=2))  # the last epoch


def test_the_running_trial_stores_its_curve_after_every_epoch() -> None:
    """What makes the rungs asynchronous: other workers see this trial's curve while it runs."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    trial = study.ask()
    seen: list[int] = []
    on_epoch = record_curve(trial, lambda report: seen.append(report.epoch))
    on_epoch(report(1, 0.5))
    on_epoch(report(2, 0.7))
    running = read_records(study)[0]
    assert running.status == "running" and running.attrs[attrs.CURVE] == [0.5, 0.7]
    assert seen == [1, 2]


def stopping(*words: str) -> str:
    args = build_parser().parse_args(["run", *words])
    return search_config(args, load_space("digits")).stopping


def test_calibrated_is_the_default_and_no_pruning_means_none() -> None:
    assert stopping() == "calibrated"
    assert stopping("--stopping", "median") == "median"
    assert stopping("--no-pruning") == "none"
    with pytest.raises(ConfigError, match="--no-pruning means --stopping none"):
        stopping("--no-pruning", "--stopping", "asha")
