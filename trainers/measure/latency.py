"""Inference latency of an ensemble: members one after another vs concurrently, the undivided
network, and the slowest member alone (what bounds members served in parallel on separate
devices, the latency Kondratyuk & Tan penalise), at batch 1 and at a throughput batch.

Concurrent means CUDA streams on a GPU; on a CPU, one thread per member with the intra-op
threads divided among them. Fused (homogeneous candidates of fusable families) runs the members
as one grouped-convolution network (`trainers.train.fused`); `LatencyTable.fastest` is the quicker of
concurrent and fused, the latency an ensemble is searched and budgeted by.

Every mode is timed in both memory layouts (contiguous NCHW and channels-last NHWC) and keeps
the faster (by the number a budget reads, `LatencyRow.budget_ms`), recorded in the row: which
one wins depends on the machine and on the network (on a 2-core AVX2 CPU the fused WRN-16-8 S=4
is 1.05-1.06x the undivided network in NCHW, 0.96x when both run channels-last, 0.98-1.02x each
in its faster layout), and a deployment picks its layout the same way.

Latency does not depend on trained weights, so this runs on a freshly built ensemble before
training (the searcher checks latency budgets that way).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any, Literal

import torch
from torch import Tensor, nn

from space.candidate import Candidate
from space.division import build, undivided
from trainers.train.fused import NotFusableError, fusable, fuse

Mode = Literal["sequential", "concurrent", "fused", "undivided", "slowest_member"]
ENSEMBLE_MODES: tuple[Mode, ...] = ("concurrent", "fused")  # the ways to run the whole ensemble
Layout = Literal["contiguous", "channels_last"]  # NCHW, or NHWC (torch.channels_last)
LAYOUTS: tuple[Layout, ...] = ("contiguous", "channels_last")


@dataclass(frozen=True)
class LatencyRow:
    mode: Mode
    batch: int
    median_ms: float
    p90_ms: float
    runs: int = 0  # timed calls behind the median (0: a row stored before this was recorded)
    spread: float = 0.0  # interquartile range / median of the timed calls
    stable: bool = True  # False: still spread after the time cap and one retake
    # the faster memory layout, which the median was timed in; None: an exported graph timed in
    # another runtime (no layout to choose)
    layout: Layout | None = "contiguous"

    @property
    def budget_ms(self) -> float:
        """What a latency budget compares: the median, or the p90 where the measurement never
        settled (a disturbed machine must not let a slow candidate through)."""
        return self.median_ms if self.stable else self.p90_ms


# Overrides the default time cap of one timing (seconds). The test suite shortens it: its trials'
# latencies prove nothing by their precision, and on a busy machine every row waits the cap out.
MAX_SECONDS_ENV = "DIVCO_LATENCY_MAX_S"


def default_max_seconds() -> float:
    return float(os.environ.get(MAX_SECONDS_ENV, "0.25"))


@dataclass(frozen=True)
class Stability:
    """When to stop timing: after `min_runs` once the middle half of the calls lies within
    `max_spread` of the median, or at `max_runs` / `max_seconds` (with 3 runs at least),
    whichever comes first. An interquartile range under `floor_ms` always counts as agreement:
    a sub-millisecond model jitters by tens of microseconds (timer, scheduler) whatever its
    median, and that wobble changes no budget decision."""

    warmup: int = 2
    min_runs: int = 5
    max_runs: int = 200
    max_seconds: float = field(default_factory=default_max_seconds)
    max_spread: float = 0.1
    floor_ms: float = 0.05

    def agrees(self, times: Sequence[float]) -> bool:
        """Whether the middle half of the calls agrees (relative spread, or the absolute floor)."""
        if len(times) < 4:
            return False
        q1, _, q3 = statistics.quantiles(times, n=4)
        return q3 - q1 <= self.floor_ms or spread(times) <= self.max_spread


@dataclass(frozen=True)
class LatencyTable:
    device: str
    rows: tuple[LatencyRow, ...]
    runtime: str = "pytorch"  # what ran the rows: pytorch, or "onnxruntime <version>"

    def row(self, mode: Mode, batch: int) -> LatencyRow:
        for row in self.rows:
            if row.mode == mode and row.batch == batch:
                return row
        raise KeyError(f"no latency row for {mode} at batch {batch}")

    def median_ms(self, mode: Mode, batch: int) -> float:
        return self.row(mode, batch).median_ms

    def fastest(self, batch: int) -> LatencyRow:
        """The quickest measured way to run the whole ensemble at `batch`."""
        rows = [r for r in self.rows if r.mode in ENSEMBLE_MODES and r.batch == batch]
        if not rows:
            raise KeyError(f"no ensemble latency row at batch {batch}")
        return min(rows, key=lambda row: row.median_ms)

    def to_dict(self) -> dict[str, Any]:
        rows = [asdict(r) for r in self.rows]
        return {"device": self.device, "runtime": self.runtime, "rows": rows}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyTable:
        rows = tuple(LatencyRow(**r) for r in data["rows"])
        return cls(data["device"], rows, data.get("runtime", "pytorch"))  # older: PyTorch


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def spread(times: Sequence[float]) -> float:
    """Interquartile range relative to the median: small when the calls agree."""
    if len(times) < 4:
        return float("inf")
    q1, median, q3 = statistics.quantiles(times, n=4)
    return (q3 - q1) / median if median > 0 else float("inf")


def timed_calls(
    fn: Callable[[], object],
    device: torch.device,
    policy: Stability,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Per-call wall times (ms), repeated until they agree (see `Stability`)."""
    times: list[float] = []
    begin = clock()
    for i in range(policy.warmup + policy.max_runs):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = clock()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= policy.warmup:
            times.append((clock() - start) * 1e3)
            settled = len(times) >= policy.min_runs and policy.agrees(times)
            if settled or (clock() - begin > policy.max_seconds and len(times) >= 3):
                break
    return times


def _sequential(members: Sequence[nn.Module], x: Tensor) -> Callable[[], object]:
    return lambda: [m(x) for m in members]


def _concurrent_cuda(members: Sequence[nn.Module], x: Tensor) -> Callable[[], object]:
    streams = [torch.cuda.Stream(x.device) for _ in members]

    def run() -> None:
        current = torch.cuda.current_stream(x.device)
        for member, stream in zip(members, streams, strict=True):
            stream.wait_stream(current)
            with torch.cuda.stream(stream):
                member(x)
        for stream in streams:
            current.wait_stream(stream)

    return run


def _inference(member: nn.Module, x: Tensor) -> Tensor:
    with torch.inference_mode():  # grad mode is per thread: pool threads need it set too
        return member(x)


def measure_members(
    members: Sequence[nn.Module],
    x: Tensor,
    mode: Mode,
    policy: Stability = Stability(),
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Per-call wall times (ms) of running every member on `x`, in the given mode."""
    device = x.device
    if mode != "concurrent" or len(members) == 1:
        return timed_calls(_sequential(members, x), device, policy, clock)
    if device.type == "cuda":
        return timed_calls(_concurrent_cuda(members, x), device, policy, clock)
    total = torch.get_num_threads()
    torch.set_num_threads(max(1, total // len(members)))
    try:
        with ThreadPoolExecutor(len(members)) as pool:
            run = lambda: list(pool.map(_inference, members, [x] * len(members)))  # noqa: E731
            return timed_calls(run, device, policy, clock)
    finally:
        torch.set_num_threads(total)


def measured_row(
    mode: Mode,
    batch: int,
    measure: Callable[[], list[float]],
    policy: Stability,
    layout: Layout | None = "contiguous",
) -> LatencyRow:
    """One row; a measurement still spread at the time cap is taken once more, and flagged
    unstable if it stays spread (a budget then reads its p90, see `LatencyRow.budget_ms`)."""
    times = measure()
    if not policy.agrees(times):
        times = measure()
    p90 = statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0]
    wobble = spread(times)
    return LatencyRow(
        mode, batch, statistics.median(times), p90, runs=len(times),
        spread=round(min(wobble, 1e3), 4), stable=policy.agrees(times), layout=layout,
    )  # fmt: skip


def fused_members(
    candidate: Candidate, members: Sequence[nn.Module], example: Tensor
) -> nn.Module | None:
    """The members as one network, or None where the candidate or its members do not fuse."""
    if not fusable(candidate):
        return None
    try:
        return fuse(members, example, candidate.recipe.aggregation).eval()
    except NotFusableError:
        return None


@contextmanager
def laid_out(modules: Sequence[nn.Module], layout: Layout) -> Iterator[None]:
    """The modules' 4-D weights in `layout` for the block, then contiguous again, even when the
    block raises. In place (a copy would double a large ensemble's memory), and outside
    inference mode: a weight converted inside it would become an inference tensor that no
    optimizer could step afterwards."""

    def convert(fmt: torch.memory_format) -> None:
        for module in modules:  # a module built in inference mode (the fused one) stays in it
            inference = any(p.is_inference() for p in module.parameters())
            with torch.inference_mode(inference), torch.no_grad():
                module.to(memory_format=fmt)

    try:
        convert(memory_format(layout))
        yield
    finally:
        convert(torch.contiguous_format)


Way = tuple[Mode, list[nn.Module], Mode]  # a row's mode, what runs, how (sequential/concurrent)


def _ways(
    candidate: Candidate,
    members: list[nn.Module],
    baseline: list[nn.Module],
    fused: nn.Module | None,
) -> list[Way]:
    """What each row times. Divided members are identical, so one stands for the slowest; a
    heterogeneous ensemble times each and keeps the slowest."""
    alone = members if candidate.members else members[:1]
    return [
        ("sequential", members, "sequential"), ("concurrent", members, "concurrent"),
        *([("fused", [fused], "sequential")] if fused is not None else []),
        ("undivided", baseline, "sequential"),
        *(("slowest_member", [m], "sequential") for m in alone),
    ]  # fmt: skip


def same_call(modules: Sequence[nn.Module], how: Mode) -> tuple[Mode, tuple[int, ...]]:
    """Ways that run the same modules the same way time one call, once: an S=1 candidate's
    sequential, concurrent, undivided and slowest-member rows are its one network (a third
    of the digits space; its latency measurement took four times as long)."""
    return ("sequential" if len(modules) == 1 else how, tuple(id(m) for m in modules))


def memory_format(layout: Layout) -> torch.memory_format:
    return torch.channels_last if layout == "channels_last" else torch.contiguous_format


def _keep_faster(rows: dict[Any, LatencyRow], key: Any, row: LatencyRow) -> None:
    """Faster by what a budget reads: an unsettled layout is judged by its p90, so a lower
    median that never settled does not displace a settled layout."""
    if key not in rows or row.budget_ms < rows[key].budget_ms:
        rows[key] = row


@torch.inference_mode()
def measure_latency(
    candidate: Candidate,
    batches: Sequence[int] = (1, 64),
    device: str | torch.device = "cpu",
    warmup: int = 2,
    repeats: int = 5,
    members: Sequence[nn.Module] | None = None,
    policy: Stability | None = None,
    clock: Callable[[], float] = time.perf_counter,
    layouts: Sequence[Layout] = LAYOUTS,
) -> LatencyTable:
    """Median and p90 latency (ms per batch): sequential, concurrent, fused, undivided runs,
    each in the faster of `layouts`. Each timing repeats at least `repeats` calls, more until
    they agree (`policy`)."""
    if not layouts or set(layouts) - set(LAYOUTS):
        raise ValueError(f"layouts must be some of {LAYOUTS}, got {tuple(layouts)}")
    policy = policy or Stability(warmup=warmup, min_runs=repeats)
    device = torch.device(device)
    with torch.inference_mode(False):  # moved weights stay trainable (see `laid_out`)
        members = [m.eval().to(device) for m in (members or build(candidate))]
        whole = undivided(candidate)  # an S=1 candidate is its own undivided network
        baseline = members if whole == candidate else [m.eval().to(device) for m in build(whole)]
    size = candidate.image_size
    fused = fused_members(
        candidate, members, torch.randn(1, candidate.in_channels, size, size, device=device)
    )
    ways = _ways(candidate, members, baseline, fused)
    inputs = {b: torch.randn(b, candidate.in_channels, size, size, device=device) for b in batches}
    best: dict[tuple[int, int], LatencyRow] = {}  # (batch, way) -> its row in the faster layout
    for layout in layouts:
        with laid_out([*members, *baseline, *([fused] if fused is not None else [])], layout):
            for batch, x in inputs.items():
                x = x.contiguous(memory_format=memory_format(layout))
                timed: dict[tuple[Mode, tuple[int, ...]], LatencyRow] = {}
                for i, (mode, modules, how) in enumerate(ways):
                    if (call := same_call(modules, how)) not in timed:
                        measure = partial(measure_members, modules, x, how, policy, clock)
                        timed[call] = measured_row(mode, batch, measure, policy, layout)
                    _keep_faster(best, (batch, i), replace(timed[call], mode=mode))
    rows = []
    for batch in batches:  # the ways in order; the slowest of the members timed alone
        cells = [r for (b, _), r in best.items() if b == batch]
        rows += [r for r in cells if r.mode != "slowest_member"]
        rows.append(
            max((r for r in cells if r.mode == "slowest_member"), key=lambda r: r.median_ms)
        )
    return LatencyTable(device_name(device), tuple(rows))
