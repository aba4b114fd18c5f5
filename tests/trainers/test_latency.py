from __future__ import annotations

import pytest

from space import Candidate
from trainers.latency import LatencyTable, measure_latency


def test_latency_table_has_sane_positive_numbers_for_every_mode() -> None:
    candidate = Candidate("resnet", 8, 8, networks=2, image_size=16, in_channels=1)
    table = measure_latency(candidate, batches=(1, 8), warmup=1, repeats=3)
    assert {(r.mode, r.batch) for r in table.rows} == {
        (mode, batch) for mode in ("sequential", "concurrent", "undivided") for batch in (1, 8)
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
