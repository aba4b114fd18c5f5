from __future__ import annotations

import time

import pytest
import torch

from space import Candidate
from trainers.latency import LatencyTable, measure_latency


def test_latency_table_has_sane_positive_numbers_for_every_mode() -> None:
    candidate = Candidate("resnet", 8, 8, networks=2, image_size=16, in_channels=1)
    table = measure_latency(candidate, batches=(1, 8), warmup=1, repeats=3)
    assert {(r.mode, r.batch) for r in table.rows} == {
        (mode, batch)
        for mode in ("sequential", "concurrent", "undivided", "slowest_member")
        for batch in (1, 8)
    }
    for row in table.rows:
        assert 0 < row.median_ms <= row.p90_ms < 10_000
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


class Sleeper(torch.nn.Module):
    """A member whose forward takes a known time (and releases the GIL, like real kernels)."""

    def __init__(self, ms: float) -> None:
        super().__init__()
        self.ms = ms

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.ms / 1000)
        return x


def test_slowest_member_bounds_concurrent_latency_of_a_heterogeneous_ensemble() -> None:
    from space.member import Architecture

    candidate = Candidate("resnet", 8, 2, image_size=8, in_channels=1).with_members(
        [Architecture("resnet", 8, 2), Architecture("resnet", 8, 4)]
    )
    members = [Sleeper(5), Sleeper(30)]
    table = measure_latency(candidate, batches=(1,), warmup=1, repeats=5, members=members)
    assert table.median_ms("slowest_member", 1) == pytest.approx(30, abs=8)
    assert table.median_ms("sequential", 1) == pytest.approx(35, abs=10)
    assert table.median_ms("concurrent", 1) < table.median_ms("sequential", 1) - 2
