"""Cost model: multiply-adds (fvcore's count) and parameters, per member and summed over the ensemble.

Convolutions and linear layers are counted as multiply-adds at batch 1, the convention of the
papers' tables; fvcore 0.1.5 also adds its batch-norm and adaptive-pool terms (its None handles
do not remove default ones), and every stored figure includes them, so they stay. Counting
runs on the `meta` device with fvcore's rules (`space.flop_count`, equal to fvcore's trace for
every family, tested), or with fvcore itself where a forward needs more. A count is kept in the
process and on disk (`space.cost_cache`); `estimate_all` fills the disk cache in parallel.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import current_process, get_all_start_methods, get_context
from typing import Any, Literal, get_args

import torch

from space import cost_cache
from space.candidate import Candidate
from space.checks import check_choice
from space.division import divide
from space.families import build_member
from space.flop_count import NotCountable, meta_count
from space.member import MemberSpec

COUNTED_OPS = ("aten::_convolution", "aten::addmm", "aten::linear", "aten::matmul", "aten::mm")
Counter = Literal["meta", "fvcore"]
COUNTER_ENV = "DIVCO_COST_COUNTER"  # fvcore: trace every member (the count before the cache)
PARALLEL_FROM = 8  # fewer missing counts than this are counted in this process


@dataclass(frozen=True)
class MemberCost:
    gflops: float
    params_m: float


@dataclass(frozen=True)
class Cost:
    members: tuple[MemberCost, ...]

    @property
    def gflops(self) -> float:
        return sum(m.gflops for m in self.members)

    @property
    def params_m(self) -> float:
        return sum(m.params_m for m in self.members)

    @property
    def max_member_gflops(self) -> float:
        return max(m.gflops for m in self.members)


_KNOWN: dict[tuple[MemberSpec, int], MemberCost] = {}


def estimate(candidate: Candidate) -> Cost:
    return _estimate(candidate)


@functools.lru_cache(maxsize=8192)
def _estimate(candidate: Candidate) -> Cost:
    """Once per candidate in a process: the search asks about the same ones often."""
    return Cost(tuple(member_cost(spec, candidate.image_size) for spec in divide(candidate)))


def approximate_gflops(candidates: Sequence[Candidate]) -> dict[str, float]:
    """Every candidate's GFLOPs (by id) from counts at the smallest image size only, times the
    square of its own size over that one: a convolution's work grows with its input's area.
    Within 0.004 decades of the exact count on every preset; cheap where exact counts of every
    size would take seconds per hundred candidates (the front sampler needs them all at once)."""
    smallest = min(c.image_size for c in candidates)
    base = {c.id: c.replace(image_size=smallest) for c in candidates}
    estimate_all(base.values())
    return {c.id: estimate(base[c.id]).gflops * (c.image_size / smallest) ** 2 for c in candidates}


def member_cost(spec: MemberSpec, image_size: int) -> MemberCost:
    """From this process, else the disk cache, else counted (and stored)."""
    known = _KNOWN.get((spec, image_size))
    if known is None:
        stored = cost_cache.read(spec, image_size)
        if stored is None:
            stored = count(spec, image_size)
            cost_cache.write(spec, image_size, *stored)
        known = _KNOWN[(spec, image_size)] = MemberCost(*stored)
    return known


def estimate_all(candidates: Iterable[Candidate], workers: int | None = None) -> None:
    """Counts every member the candidates have that no cache holds, in `workers` processes
    (default: one per core), so the `estimate` calls that follow only read."""
    wanted = {(spec, c.image_size) for c in candidates for spec in set(divide(c))}
    missing = []
    for pair in sorted(wanted - _KNOWN.keys(), key=repr):
        stored = cost_cache.read(*pair)
        if stored is None:
            missing.append(pair)
        else:
            _KNOWN[pair] = MemberCost(*stored)
    workers = min(workers or len(os.sched_getaffinity(0)), len(missing))
    if workers < 2 or len(missing) < PARALLEL_FROM or current_process().daemon:
        # (a pool's worker, as the replay benchmark's, may not start processes of its own)
        for pair in missing:
            member_cost(*pair)
        return
    # fork: workers start at once (spawn re-imports torch); they count on meta, one thread each
    method = "fork" if "fork" in get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(workers, mp_context=get_context(method)) as pool:
        results = pool.map(
            _count_and_store, missing, chunksize=max(1, len(missing) // (8 * workers))
        )
        for pair, counted in zip(missing, results, strict=True):
            _KNOWN[pair] = MemberCost(*counted)


def _count_and_store(pair: tuple[MemberSpec, int]) -> tuple[float, float]:
    torch.set_num_threads(1)  # the processes share the cores
    counted = count(*pair)
    cost_cache.write(*pair, *counted)
    return counted


def count(spec: MemberSpec, image_size: int, counter: Counter | None = None) -> tuple[float, float]:
    """(gflops, params_m) of one member, counted now."""
    counter = counter or os.environ.get(COUNTER_ENV, "meta")  # type: ignore[assignment]
    check_choice(COUNTER_ENV, counter, get_args(Counter))
    if counter == "meta":
        try:
            macs, params = meta_count(spec, image_size)
            return macs / 1e9, params / 1e6
        except NotCountable:
            pass
    return fvcore_count(spec, image_size)


def fvcore_count(spec: MemberSpec, image_size: int) -> tuple[float, float]:
    """fvcore's trace of a real forward (seconds for an ImageNet member on a CPU)."""
    with (
        warnings.catch_warnings()
    ):  # fvcore scripts a helper at import; torch calls that deprecated
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import FlopCountAnalysis

    model = build_member(spec).eval()
    params = sum(p.numel() for p in model.parameters())
    image = torch.zeros(1, spec.in_channels, image_size, image_size)
    analysis = FlopCountAnalysis(model, image)
    analysis.set_op_handle(**{op: None for op in _uncounted_ops(analysis)})
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    jit_logger = logging.getLogger("fvcore.nn.jit_analysis")
    previous, jit_logger.level = jit_logger.level, logging.ERROR
    try:
        with torch.no_grad():
            macs = analysis.total()
    finally:
        jit_logger.setLevel(previous)
    return macs / 1e9, params / 1e6


def _uncounted_ops(analysis: Any) -> list[str]:
    return [op for op in analysis._op_handles if op not in COUNTED_OPS]
