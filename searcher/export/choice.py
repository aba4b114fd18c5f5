"""`searcher export`'s choice: a named trial, or `--best`: the best seed mean within the budget,
and the trials the seeds do not tell apart from it (then the choice is a tie, and it says so)."""

from __future__ import annotations

from collections.abc import Sequence

from searcher.study import attrs
from searcher.study.contest import PRIOR_SPREAD, closeness, seed_spread
from searcher.study.frontier import seed_mean, seed_points
from searcher.study.records import TrialRecord
from space.budget import Budget
from space.errors import ConfigError


def within(record: TrialRecord, budget: Budget) -> bool:
    limits = (
        (budget.gflops, attrs.GFLOPS),
        (budget.params_m, attrs.PARAMS_M),
        (budget.latency_ms, attrs.LATENCY_MS),
    )
    return all(limit is None or (record.cost(key) or 0.0) <= limit for limit, key in limits)


def pick_trial(
    records: Sequence[TrialRecord], number: int | None, budget: Budget | None
) -> TrialRecord:
    """The named trial, or the trained one within the budget with the best mean accuracy over
    its seeds (cheaper on equal means): one seed's accuracy is partly luck, and racing or
    `searcher confirm` gave the contested trials further seeds."""
    if number is not None:
        record = next((r for r in records if r.number == number), None)
        if record is None:
            raise ConfigError(f"no trial {number} in the study (it has {len(records)} trials)")
        if record.status != "trained" or not record.attrs.get(attrs.CHECKPOINT):
            raise ConfigError(
                f"trial {number} has no checkpoint (status {record.status}); export a trained trial"
            )
        return record
    trained = [r for r in records if r.status == "trained" and r.attrs.get(attrs.CHECKPOINT)]
    if not trained:
        raise ConfigError("the study has no trained trial to export")
    fitting = [r for r in trained if budget is None or within(r, budget)]
    if not fitting:
        cheapest = min(trained, key=lambda r: r.cost(attrs.GFLOPS) or 0.0)
        raise ConfigError(
            f"no trained trial fits {budget.describe()}; the cheapest is trial {cheapest.number} "
            f"({cheapest.label}) at {cheapest.cost(attrs.GFLOPS):.4g} GFLOPs, "
            f"{cheapest.cost(attrs.LATENCY_MS) or 0:.3g} ms"
        )
    return max(fitting, key=lambda r: (seed_mean(r), -(r.cost(attrs.GFLOPS) or 0.0)))


def exportable(records: Sequence[TrialRecord], budget: Budget | None) -> list[TrialRecord]:
    return [
        r
        for r in records
        if r.status == "trained"
        and r.attrs.get(attrs.CHECKPOINT)
        and (budget is None or within(r, budget))
    ]


def tied_with(
    records: Sequence[TrialRecord], chosen: TrialRecord, budget: Budget | None
) -> list[TrialRecord]:
    """The trials within the budget whose mean the seeds do not tell apart from the chosen
    one's (searcher/study/contest.py): `--best` is then a tie, and export says so."""
    points = {p.key: p for p in seed_points(records)}
    spread = seed_spread(list(points.values()), PRIOR_SPREAD)
    best = points.get(chosen.number)
    if best is None:
        return []
    return [
        r
        for r in exportable(records, budget)
        if r.number != chosen.number
        and r.number in points
        and closeness(best, points[r.number], spread) < 1
    ]


def describe_choice(record: TrialRecord, ties: Sequence[TrialRecord]) -> list[str]:
    """What `--best` chose, on which evidence, and the trials it is not told apart from."""
    lines = [f"best within the budget on seed means: trial {record.number}, {seeds_text(record)}"]
    if ties:
        others = ", ".join(f"trial {r.number} ({r.label}, {seeds_text(r)})" for r in ties)
        numbers = ",".join(str(n) for n in sorted([record.number, *(r.number for r in ties)]))
        lines.append(
            f"the choice is a tie: the seeds do not tell it apart from {others}; more seeds "
            f"(`searcher confirm --trials {numbers} --seeds 2`) or `--trial N` decide"
        )
    return lines


def seeds_text(record: TrialRecord) -> str:
    seeds = len(record.attrs.get(attrs.CONFIRM_SEEDS) or ()) or 1
    return f"mean accuracy {seed_mean(record):.4f} over {seeds} seed{'s' if seeds > 1 else ''}"
