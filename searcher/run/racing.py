"""Racing: which trained points get one more seed (as SMAC3's intensifier races incumbents).

A point earns a further seed only while its order against a neighbour decides the front and
the seeds seen so far cannot tell the two apart (searcher/study/contest.py). One seed at a time,
so a pair stops drawing seeds as soon as it is resolved; a pair still unresolved at the cap is a
tie and stays one: more seeds of a 359-image validation split would not settle it.
"""

from __future__ import annotations

from collections.abc import Sequence

from searcher.study.contest import Point, closeness, unresolved_pairs

CAP = 3  # seeds per point, the trial's own run included (SMAC3's max_config_calls)


def next_seeds(points: Sequence[Point], spread: float, cap: int = CAP) -> list[int]:
    """Keys that should get one more seed, most contested pair first; within a pair the point
    with fewer seeds first. Points already at the cap get none."""
    by_key = {p.key: p for p in points}
    chosen: list[int] = []
    for a, b in unresolved_pairs(points, spread):
        pair = sorted((by_key[a], by_key[b]), key=lambda p: (p.n, p.key))
        for p in pair:
            if p.n < cap and p.key not in chosen:
                chosen.append(p.key)
    return chosen


def contested_score(points: Sequence[Point], spread: float) -> dict[int, float]:
    """Each contested point's closest unresolved gap (|gap| / margin): what a progress line or a
    log can show about why a point got a seed."""
    by_key = {p.key: p for p in points}
    score: dict[int, float] = {}
    for a, b in unresolved_pairs(points, spread):
        value = closeness(by_key[a], by_key[b], spread)
        for key in (a, b):
            score[key] = min(value, score.get(key, value))
    return score
