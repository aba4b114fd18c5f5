"""Inference latency of an ensemble: members one after another vs concurrently, the undivided
network, and the slowest member alone (what bounds members served in parallel on separate
devices, the latency Kondratyuk & Tan penalise), at batch 1 and at a throughput batch.

Concurrent means CUDA streams on a GPU; on a CPU, one thread per member with the intra-op
threads divided among them. Latency does not depend on trained weights, so this runs on a
freshly built ensemble before training (the searcher checks latency budgets that way).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from space.candidate import Candidate
from space.division import build, undivided

Mode = Literal["sequential", "concurrent", "undivided", "slowest_member"]


@dataclass(frozen=True)
class LatencyRow:
    mode: Mode
    batch: int
    median_ms: float
    p90_ms: float


@dataclass(frozen=True)
class LatencyTable:
    device: str
    rows: tuple[LatencyRow, ...]

    def median_ms(self, mode: Mode, batch: int) -> float:
        for row in self.rows:
            if row.mode == mode and row.batch == batch:
                return row.median_ms
        raise KeyError(f"no latency row for {mode} at batch {batch}")

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "rows": [asdict(r) for r in self.rows]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyTable:
        return cls(data["device"], tuple(LatencyRow(**r) for r in data["rows"]))


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def _timed(
    fn: Callable[[], object], device: torch.device, warmup: int, repeats: int
) -> list[float]:
    times = []
    for i in range(warmup + repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
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
    warmup: int = 3,
    repeats: int = 10,
) -> list[float]:
    """Per-call wall times (ms) of running every member on `x`, in the given mode."""
    device = x.device
    if mode != "concurrent" or len(members) == 1:
        return _timed(_sequential(members, x), device, warmup, repeats)
    if device.type == "cuda":
        return _timed(_concurrent_cuda(members, x), device, warmup, repeats)
    total = torch.get_num_threads()
    torch.set_num_threads(max(1, total // len(members)))
    try:
        with ThreadPoolExecutor(len(members)) as pool:
            run = lambda: list(pool.map(_inference, members, [x] * len(members)))  # noqa: E731
            return _timed(run, device, warmup, repeats)
    finally:
        torch.set_num_threads(total)


def _row(mode: Mode, batch: int, times: list[float]) -> LatencyRow:
    p90 = statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0]
    return LatencyRow(mode, batch, statistics.median(times), p90)


@torch.inference_mode()
def measure_latency(
    candidate: Candidate,
    batches: Sequence[int] = (1, 64),
    device: str | torch.device = "cpu",
    warmup: int = 3,
    repeats: int = 10,
    members: Sequence[nn.Module] | None = None,
) -> LatencyTable:
    """Median and p90 latency (ms per batch) for sequential, concurrent and undivided runs."""
    device = torch.device(device)
    members = [m.eval().to(device) for m in (members or build(candidate))]
    baseline = [m.eval().to(device) for m in build(undivided(candidate))]
    rows = []
    for batch in batches:
        size = candidate.image_size
        x = torch.randn(batch, candidate.in_channels, size, size, device=device)
        for mode in ("sequential", "concurrent"):
            rows.append(_row(mode, batch, measure_members(members, x, mode, warmup, repeats)))
        rows.append(
            _row("undivided", batch, measure_members(baseline, x, "sequential", warmup, repeats))
        )
        distinct = members if candidate.members else members[:1]  # divided members are identical
        alone = [
            _row("slowest_member", batch, measure_members([m], x, "sequential", warmup, repeats))
            for m in distinct
        ]
        rows.append(max(alone, key=lambda row: row.median_ms))
    return LatencyTable(device_name(device), tuple(rows))
