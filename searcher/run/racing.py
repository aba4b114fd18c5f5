"""Racing: which trained points get one more seed (as SMAC3's intensifier races incumbents).

A point earns a further seed only while its order against a neighbour decides the front and
the seeds seen so far cannot tell the two apart (searcher/study/contest.py). One seed at a time,
so a pair stops drawing seeds as soon as it is resolved; a pair still unresolved at the cap is a
tie and stays one: more seeds of a 359-image validation split would not settle it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from searcher.study.contest import Point, closeness, margin, mean_front, unresolved_pairs

CAP = 3  # seeds per point, the trial's own run included (SMAC3's max_config_calls)
# The most of a study's training epochs that confirmation runs may take (`--confirm-share`):
# the one constant the replay benchmark (benchmarks/search_efficiency.py) tunes.
CONFIRM_SHARE = 0.35
# Racing waits until the study holds this many trained points: before, almost every new trial
# moves the front, and seeds given to its points are mostly spent on points that drop off it.
# From then on the share counts (searcher/run/race_step.py), so seeds follow the front as it
# grows. (Racing also used to wait for the second half of a run's slots; its share then came in
# one burst when that half began. Replays: 630 -> 554 epochs to 99 % of the 18-epoch table's
# front, 81 % -> 83 % of the 6-epoch table's reported front on the true one.)
RACE_AFTER = 8


# The costliest front point's share of the front's area reaches this far (log10 cost) past the
# costliest trained point, so the most accurate point is never worth nothing.
TAIL_DECADES = 0.1


def next_seeds(points: Sequence[Point], spread: float, cap: int = CAP) -> list[int]:
    """Keys that should get one more seed: the points of unresolved pairs below the cap. Points
    of the mean front first (they are the answer a user acts on; replays of the digits table
    put 5 % more of the reported front on the true one than seeds in order of doubt alone),
    then those with the fewest seeds (one seed is the largest doubt), then the front points
    whose own share of the front's hypervolume is largest (a lucky seed there hides the most;
    replays of the 18-epoch digits table reach 99 % in 0.85x the epochs), then the most
    contested."""
    score = contested_score(points, spread)
    seeds = {p.key: p.n for p in points}
    area = exclusive_areas(points)
    wanted = [key for key in score if seeds[key] < cap]
    return sorted(
        wanted, key=lambda key: (key not in area, seeds[key], -area.get(key, 0.0), score[key], key)
    )


def exclusive_areas(points: Sequence[Point]) -> dict[int, float]:
    """Each mean-front point's own rectangle of the front's hypervolume in (mean accuracy,
    log10 cost): its accuracy over the next cheaper front point's (the worst mean below the
    cheapest) times the decades to the next costlier one."""
    front = mean_front(points)
    if not front:
        return {}
    floor = min(p.mean for p in points)
    decades = [math.log10(max(p.cost, 1e-12)) for p in front]
    tail = max(math.log10(max(p.cost, 1e-12)) for p in points) + TAIL_DECADES
    areas = {}
    for i, p in enumerate(front):
        below = front[i - 1].mean if i else floor
        right = decades[i + 1] if i + 1 < len(front) else tail
        areas[p.key] = (p.mean - below) * (right - decades[i])
    return areas


def contested_score(points: Sequence[Point], spread: float) -> dict[int, float]:
    """Each contested point's closest unresolved gap (|gap| / margin, below 1)."""
    by_key = {p.key: p for p in points}
    score: dict[int, float] = {}
    for a, b in unresolved_pairs(points, spread):
        value = closeness(by_key[a], by_key[b], spread)
        for key in (a, b):
            score[key] = min(value, score.get(key, value))
    return score


def settleable(points: Sequence[Point], spread: float, cap: int = CAP) -> set[int]:
    """The points one more seed can still settle: those on one seed, and those in an unresolved
    pair that would be resolved with both points at the cap if their means held. A pair closer
    than that is a tie at the cap whatever the next seed says."""
    by_key = {p.key: p for p in points}
    keys = {p.key for p in points if p.n < 2}
    for a, b in unresolved_pairs(points, spread):
        if abs(by_key[a].mean - by_key[b].mean) >= margin(by_key[a], by_key[b], spread, seeds=cap):
            keys |= {a, b}
    return keys
