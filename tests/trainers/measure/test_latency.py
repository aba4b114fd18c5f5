from __future__ import annotations

import time

import pytest
import torch

from space import Candidate
from space.division import build
from trainers.measure.latency import (
    MAX_SECONDS_ENV,
    LatencyRow,
    LatencyTable,
    Stability,
    _keep_faster,
    laid_out,
    measure_latency,
    measured_row,
    timed_calls,
)


@pytest.fixture(autouse=True)
def default_time_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests time with the product's default cap, not the suite's short one (conftest)."""
    monkeypatch.delenv(MAX_SECONDS_ENV, raising=False)


def test_latency_table_has_sane_positive_numbers_for_every_mode() -> None:
    candidate = Candidate("resnet", 8, 8, networks=2, image_size=16, in_channels=1)
    members = build(candidate)
    table = measure_latency(candidate, batches=(1, 8), warmup=1, repeats=3, members=members)
    assert [(r.mode, r.batch) for r in table.rows] == [
        (mode, batch)
        for batch in (1, 8)
        for mode in ("sequential", "concurrent", "fused", "undivided", "slowest_member")
    ]
    assert all(p.is_contiguous() for m in members for p in m.parameters())
    # the measured members still train: no weight became an inference tensor
    assert not any(p.is_inference() for m in members for p in m.parameters())
    members[0].train()(torch.rand(2, 1, 16, 16)).sum().backward()
    assert all(p.grad is not None for p in members[0].parameters())
    fastest = table.fastest(1)
    assert fastest.mode in ("concurrent", "fused")
    assert fastest.median_ms == min(table.median_ms(m, 1) for m in ("concurrent", "fused"))
    for row in table.rows:
        assert 0 < row.median_ms <= row.p90_ms and row.runs >= 3
    assert table.device.startswith("cpu")
    assert LatencyTable.from_dict(table.to_dict()) == table
    with pytest.raises(KeyError):
        table.median_ms("sequential", 3)


@pytest.mark.gpu
def test_latency_on_cuda_uses_streams() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    candidate = Candidate("resnet", 8, 8, networks=4, image_size=16)
    table = measure_latency(candidate, batches=(1,), device="cuda", warmup=2, repeats=5)
    assert all(row.median_ms > 0 for row in table.rows)


class FakeClock:
    """Time that passes only when a member says so: latency tests independent of the machine."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Sleeper(torch.nn.Module):
    """A member whose forward takes a known time on `clock` (or really sleeps without one)."""

    def __init__(self, ms: float, clock: FakeClock | None = None) -> None:
        super().__init__()
        self.ms, self.clock = ms, clock

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.clock is None:
            time.sleep(self.ms / 1000)  # releases the GIL, like real kernels
        else:
            self.clock.now += self.ms / 1000
        return x


def hetero_candidate() -> Candidate:
    from space.member import Architecture

    return Candidate("resnet", 8, 2, image_size=8, in_channels=1).with_members(
        [Architecture("resnet", 8, 2), Architecture("resnet", 8, 4)]
    )


def test_slowest_member_and_sequential_rows_of_a_heterogeneous_ensemble() -> None:
    clock = FakeClock()
    members = [Sleeper(5, clock), Sleeper(30, clock)]
    table = measure_latency(
        hetero_candidate(), batches=(1,), warmup=1, repeats=5, members=members, clock=clock
    )
    assert table.median_ms("slowest_member", 1) == pytest.approx(30)
    assert table.median_ms("sequential", 1) == pytest.approx(35)
    assert "fused" not in {row.mode for row in table.rows}  # heterogeneous: never fused
    row = next(r for r in table.rows if r.mode == "sequential")
    assert row.stable and row.spread == 0 and row.runs == 5  # identical calls settle at once


def test_concurrent_members_overlap() -> None:
    """A relative comparison within one run: two 20 ms members side by side vs one after
    the other (sleeping threads overlap however busy the machine is)."""
    members = [Sleeper(20), Sleeper(20)]
    table = measure_latency(hetero_candidate(), batches=(1,), warmup=1, repeats=5, members=members)
    assert table.median_ms("concurrent", 1) < 0.8 * table.median_ms("sequential", 1)
    assert table.fastest(1).mode == "concurrent"


class LayoutSleeper(torch.nn.Module):
    """Takes `contiguous_ms` on an NCHW input and `channels_last_ms` on an NHWC one, and notes
    which layout its input and its own 4-D weight were in."""

    def __init__(self, contiguous_ms: float, channels_last_ms: float, clock: FakeClock) -> None:
        super().__init__()
        self.ms = {False: contiguous_ms, True: channels_last_ms}
        self.clock, self.seen = clock, set()
        self.conv = torch.nn.Conv2d(3, 3, 3)  # a 4-D weight, for the layout to apply to

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nhwc = not x.is_contiguous()  # 3 channels, 8 x 8: channels-last is not NCHW-contiguous
        self.seen.add((nhwc, not self.conv.weight.is_contiguous()))
        self.clock.now += self.ms[nhwc] / 1000
        return x


def test_each_row_keeps_its_faster_memory_layout_and_the_members_come_back_contiguous() -> None:
    from space.member import Architecture

    clock = FakeClock()
    members = [LayoutSleeper(10, 4, clock), LayoutSleeper(20, 25, clock)]
    candidate = Candidate("resnet", 8, 2, image_size=8).with_members(
        [Architecture("resnet", 8, 2), Architecture("resnet", 8, 4)]
    )
    table = measure_latency(
        candidate, batches=(1,), warmup=1, repeats=5, members=members, clock=clock
    )
    sequential = table.row("sequential", 1)  # NCHW 10 + 20, NHWC 4 + 25
    assert (sequential.median_ms, sequential.layout) == (pytest.approx(29), "channels_last")
    slowest = table.row("slowest_member", 1)  # member 0 at its best 4 (NHWC), member 1 20 (NCHW)
    assert (slowest.median_ms, slowest.layout) == (pytest.approx(20), "contiguous")
    assert all(m.seen == {(False, False), (True, True)} for m in members)  # weights follow
    assert all(m.conv.weight.is_contiguous() for m in members)  # and are given back NCHW
    assert LatencyTable.from_dict(table.to_dict()) == table


def test_layouts_are_restored_when_the_timed_block_raises() -> None:
    conv = torch.nn.Conv2d(3, 3, 3)
    with pytest.raises(RuntimeError, match="boom"), laid_out([conv], "channels_last"):
        assert not conv.weight.is_contiguous()
        raise RuntimeError("boom")
    assert conv.weight.is_contiguous()
    with pytest.raises(ValueError, match="layouts must be some of"):
        measure_latency(Candidate("resnet", 8, 2, image_size=8), batches=(1,), layouts=())


def test_a_layout_that_never_settled_does_not_win_on_its_median() -> None:
    settled = LatencyRow("fused", 1, 10.0, 11.0, stable=True, layout="contiguous")
    unsettled = LatencyRow("fused", 1, 9.0, 20.0, stable=False, layout="channels_last")
    rows: dict = {}
    for row in (settled, unsettled):
        _keep_faster(rows, "fused@1", row)
    assert rows["fused@1"] is settled  # a budget would read the unsettled one's 20 ms p90
    _keep_faster(rows, "fused@1", LatencyRow("fused", 1, 9.5, 10.0, layout="channels_last"))
    assert rows["fused@1"].median_ms == 9.5


def scripted(durations_ms: list[float], clock: FakeClock):
    """A call whose successive durations are scripted (a disturbed machine, made repeatable)."""
    script = iter(durations_ms)

    def call() -> None:
        clock.now += next(script) / 1000

    return call


def test_a_disturbance_is_outvoted_by_more_runs() -> None:
    clock = FakeClock()
    policy = Stability(warmup=0, min_runs=5, max_seconds=10)
    durations = [1.0, 120.0, 1.0, 1.1, 0.9, 1.0, 1.0, 1.05, 0.95, 1.0] + [1.0] * 50
    times = timed_calls(scripted(durations, clock), torch.device("cpu"), policy, clock)
    row = measured_row("concurrent", 1, lambda: times, policy)
    assert row.median_ms == pytest.approx(1.0) and row.stable
    assert row.runs == len(times) and 5 <= row.runs < 60


def test_a_measurement_that_never_settles_is_retaken_once_then_flagged() -> None:
    clock = FakeClock()
    policy = Stability(warmup=0, min_runs=5, max_runs=20, max_seconds=10)
    calls = []

    def measure() -> list[float]:
        calls.append(1)
        return timed_calls(scripted([1.0, 3.0] * 10, clock), torch.device("cpu"), policy, clock)

    row = measured_row("concurrent", 1, measure, policy)
    assert len(calls) == 2 and row.runs == 20
    assert not row.stable and row.spread > policy.max_spread
    assert row.budget_ms == row.p90_ms > row.median_ms  # a budget reads the slow end


def test_the_time_cap_ends_a_slow_measurement() -> None:
    clock = FakeClock()
    policy = Stability(warmup=1, min_runs=5, max_seconds=0.5)
    times = timed_calls(
        scripted([200.0, 100.0, 300.0, 100.0, 300.0] * 4, clock), torch.device("cpu"), policy, clock
    )
    assert times == pytest.approx([100.0, 300.0, 100.0])  # past the 0.5 s cap; 3 at least


def test_sub_millisecond_jitter_under_the_absolute_floor_counts_as_agreement() -> None:
    """0.30 / 0.34 ms calls: 12% relative spread, but a 0.04 ms interquartile range."""
    durations = [0.30, 0.34] * 10
    for policy, stable in ((Stability(warmup=0, max_runs=20, max_seconds=10), True),
                           (Stability(warmup=0, max_runs=20, max_seconds=10, floor_ms=0.0), False)):  # fmt: skip
        clock = FakeClock()

        def measure(policy: Stability = policy, clock: FakeClock = clock) -> list[float]:
            """A fresh script each time: the retake replays the same durations."""
            return timed_calls(scripted(durations, clock), torch.device("cpu"), policy, clock)

        row = measured_row("concurrent", 1, measure, policy)
        assert row.stable is stable and row.spread > policy.max_spread
        assert row.runs == (policy.min_runs if stable else 20)


class CountingSleeper(Sleeper):
    def __init__(self, ms: float, clock: FakeClock) -> None:
        super().__init__(ms, clock)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return super().forward(x)


def test_an_undivided_candidate_times_its_one_network_once_for_every_row() -> None:
    """S=1: sequential, concurrent, undivided and slowest member are one call; it is timed once
    per layout and batch and every row reads that timing (the warm-up and 5 runs, settled)."""
    clock = FakeClock()
    member = CountingSleeper(3, clock)
    candidate = Candidate("resnet", 8, 2, networks=1, image_size=8, in_channels=1)
    table = measure_latency(
        candidate, batches=(1, 4), warmup=1, repeats=5, members=[member], clock=clock,
        layouts=("contiguous",),
    )  # fmt: skip
    modes = ["sequential", "concurrent", "fused", "undivided", "slowest_member"]
    assert [(r.mode, r.batch) for r in table.rows] == [(m, b) for b in (1, 4) for m in modes]
    assert member.calls - 2 == 2 * (1 + 5)  # fusing it calls it twice; then each batch timed once
    same = [r for r in table.rows if r.mode != "fused"]  # fused is another module, timed apart
    assert all(r.median_ms == pytest.approx(3) and r.runs == 5 for r in same)
