"""The anchor: the space's cheapest candidate, seeded into every new study (after its references
when they come first).

No candidate can dominate the cheapest one (nothing is cheaper), so it is on every front the
search can report, and it opens the front's cost axis: in a hypervolume on log cost the cheap
end spans the most decades per point (the cheapest digits candidate alone holds 2.6 % of the
true front's hypervolume on the 6-epoch table). TPE, drawn to the accurate end, found it late:
untrained in 10 of 12 replays after 60 % of the cost of training every candidate once. Seeded,
the replays reach 99 % of the true front's hypervolume sooner on the digits-small and 18-epoch
tables (docs/benchmarks/search-efficiency.md). An ordinary trial: it counts toward `--n-trials`
and the stopping rule judges it (it is never cut: at every rung it is the cheapest entry).
Only the candidates at the space's smallest image size are costed (a network's multiply-adds grow
with the square of its input; on every preset the cheapest of them is the cheapest of all), in
parallel processes as `searcher space show` does, once per machine (space/cost_cache.py keeps
the counts): the 81 such `imagenet` candidates, not all 324, so a new study starts in seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: reading a study must not load torch
    from space.candidate import Candidate
    from space.search_space import SearchSpace


def anchors(space: SearchSpace) -> list[Candidate]:
    """The cheapest candidate by GFLOPs at the smallest image size (the cost known before
    training; ties: smallest id), unless it is already a reference."""
    from space.cost import estimate, estimate_all  # torch: only a new study gets here

    smallest = min(c.image_size for c in space.candidates())
    candidates = [c for c in space.candidates() if c.image_size == smallest]
    estimate_all(candidates)  # in parallel, once per machine
    cheapest = min(candidates, key=lambda c: (estimate(c).gflops, c.id))
    return [] if cheapest in space.reference_candidates() else [cheapest]
