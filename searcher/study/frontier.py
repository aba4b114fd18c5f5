"""The accuracy-cost Pareto front on seed means: one definition for `searcher frontier`, the
final table of `searcher run`, `searcher export --best` and the dashboard."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from searcher.study import attrs
from searcher.study.contest import (
    PRIOR_SPREAD,
    Point,
    seed_spread,
    standard_error,
    unresolved_pairs,
)
from searcher.study.records import TrialRecord

COST_KEYS = (attrs.GFLOPS, attrs.PARAMS_M, attrs.LATENCY_MS)
# Study attribute `searcher run` keeps up to date: divco's front for peer clients (optuna-dashboard,
# `optuna studies`), whose own `best_trials` can only read each trial's first run.
FRONT_ATTR = "front_on_seed_means"


def seed_mean(record: TrialRecord) -> float | None:
    """Mean validation accuracy over the trial's seeds (its own run alone until confirmed)."""
    mean = record.attrs.get(attrs.CONFIRM_MEAN)
    return record.accuracy if mean is None else float(mean)


def seed_accuracies(record: TrialRecord) -> tuple[float, ...]:
    seeds = record.attrs.get(attrs.CONFIRM_SEEDS)
    return tuple(float(a) for a in seeds.values()) if seeds else (float(record.accuracy),)


def frontable(records: Sequence[TrialRecord], cost_key: str) -> list[TrialRecord]:
    """Trained trials with an accuracy and the cost. Pruned, infeasible, duplicate and failed
    trials never enter: their accuracy is not a finished model's."""
    return [
        r
        for r in records
        if r.status == "trained" and r.accuracy is not None and r.cost(cost_key) is not None
    ]


def seed_points(records: Sequence[TrialRecord], cost_key: str = attrs.GFLOPS) -> list[Point]:
    """The trained trials as racing's points: key = trial number, every seed's accuracy."""
    return [
        Point(r.number, float(r.cost(cost_key)), seed_accuracies(r))  # type: ignore[arg-type]
        for r in frontable(records, cost_key)
    ]


def pareto_front(records: Sequence[TrialRecord], cost_key: str = attrs.GFLOPS) -> list[TrialRecord]:
    """Trained trials not dominated in (higher seed-mean accuracy, lower cost), cheapest first.

    Trials with exactly the same mean and cost are all kept, as Optuna's `study.best_trials`
    keeps them; before any confirmation the means are the trials' own values, so a peer client
    shows the same front."""
    trained = frontable(records, cost_key)
    trained.sort(key=lambda r: (r.cost(cost_key), -seed_mean(r), r.number))  # type: ignore[operator]
    front: list[TrialRecord] = []
    for record in trained:
        mean = seed_mean(record)
        last = front[-1] if front else None
        level = last is not None and (mean, record.cost(cost_key)) == (
            seed_mean(last),
            last.cost(cost_key),
        )
        if last is None or mean > seed_mean(last) or level:  # type: ignore[operator]
            front.append(record)
    return front


@dataclass(frozen=True)
class FrontView:
    """The front as divco states it: seed means, the study's seed spread, and the trials whose
    order against a front point the seeds have not resolved (ties, `tie with` in tables)."""

    front: list[TrialRecord]
    spread: float  # one seed's standard deviation of log(1 - accuracy) (searcher/study/contest.py)
    ties: dict[int, tuple[int, ...]]  # trial -> trials it is not told apart from

    def seeds(self, record: TrialRecord) -> int:
        return len(record.attrs.get(attrs.CONFIRM_SEEDS) or ()) or 1

    def error(self, record: TrialRecord) -> float:
        """The standard error of the trial's mean accuracy: one seed's spread at that accuracy
        (the study's log-scale spread times the error rate) / sqrt(seeds)."""
        return standard_error(self.spread, float(seed_mean(record)), self.seeds(record))  # type: ignore[arg-type]


def spread_words(spread: float) -> str:
    """The log-scale seed spread as a reader takes it: the factor one seed moves the error rate."""
    return f"seed spread x{math.exp(spread):.2f} on the error rate"


def front_view(
    records: Sequence[TrialRecord], cost_key: str = attrs.GFLOPS, prior: float = PRIOR_SPREAD
) -> FrontView:
    points = seed_points(records, cost_key)
    spread = seed_spread(points, prior)
    front = pareto_front(records, cost_key)
    ties: dict[int, list[int]] = {}
    for a, b in unresolved_pairs(points, spread):
        ties.setdefault(a, []).append(b)
        ties.setdefault(b, []).append(a)
    return FrontView(front, spread, {k: tuple(sorted(v)) for k, v in ties.items()})


def front_summary(view: FrontView, cost_key: str) -> dict[str, object]:
    """What FRONT_ATTR holds: the front's trials with mean, seeds and ties, cheapest first."""
    return {
        "cost": cost_key,
        "seed_spread": round(view.spread, 6),
        "trials": [
            {
                "trial": r.number,
                "mean_accuracy": round(float(seed_mean(r)), 6),  # type: ignore[arg-type]
                "seeds": view.seeds(r),
                "standard_error": round(view.error(r), 6),
                "tie_with": list(view.ties.get(r.number, ())),
            }
            for r in view.front
        ],
    }
