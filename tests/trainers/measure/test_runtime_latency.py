"""A trial's latency table measured in ONNX Runtime: the deployable graphs of an untrained
ensemble, every mode PyTorch's table has, tagged with the runtime."""

from __future__ import annotations

import pytest

from space import Candidate
from space.member import Architecture
from trainers.measure.latency import LatencyTable
from trainers.measure.runtime_latency import onnxruntime_table

MODES = {"sequential", "concurrent", "fused", "undivided", "slowest_member"}


@pytest.mark.slow
def test_a_fusable_candidate_gets_every_mode_timed_in_onnxruntime() -> None:
    candidate = Candidate("resnet", 8, 4, networks=2, image_size=8, in_channels=1)
    table = onnxruntime_table(candidate, (1, 4))
    assert table.runtime.startswith("onnxruntime ") and table.device.startswith("cpu")
    assert {(r.mode, r.batch) for r in table.rows} == {(m, b) for m in MODES for b in (1, 4)}
    assert all(0 < r.median_ms <= r.p90_ms and r.runs >= 3 for r in table.rows)
    assert table.fastest(1).mode in ("concurrent", "fused")
    assert LatencyTable.from_dict(table.to_dict()) == table


@pytest.mark.slow
def test_members_that_do_not_fuse_have_no_fused_row() -> None:
    mixed = Candidate("resnet", 8, 2, networks=2, image_size=8, in_channels=1,
                      members=(Architecture("resnet", 8, 2), Architecture("wide_resnet", 10, 1)))  # fmt: skip
    table = onnxruntime_table(mixed, (1,))
    assert {r.mode for r in table.rows} == MODES - {"fused"}
    assert table.fastest(1).mode == "concurrent"


def test_a_table_stored_before_runtimes_were_recorded_reads_as_pytorch() -> None:
    stored = {"device": "cpu (2 threads)", "rows": [
        {"mode": "concurrent", "batch": 1, "median_ms": 1.0, "p90_ms": 1.2},
    ]}  # fmt: skip
    assert LatencyTable.from_dict(stored).runtime == "pytorch"
    with pytest.raises(KeyError):
        LatencyTable.from_dict(stored).row("fused", 1)


@pytest.mark.parametrize("spin", [True, False])
def test_a_session_busy_waits_between_calls_only_when_asked(tmp_path, spin: bool) -> None:
    """Spinning threads are ONNX Runtime's default; timed in turn with PyTorch they would take
    PyTorch's cores, so the paired benchmark opens its sessions with `spin=False`."""
    import torch

    from trainers.measure.runtime_latency import open_session

    path = tmp_path / "conv.onnx"
    torch.onnx.export(torch.nn.Conv2d(1, 2, 3), (torch.rand(1, 1, 8, 8),), str(path), dynamo=False)
    options = open_session(path, spin=spin).get_session_options()
    key = "session.intra_op.allow_spinning"
    if spin:  # left at ONNX Runtime's default: the entry is not set
        with pytest.raises(RuntimeError):  # ONNX Runtime: no configuration with that key
            options.get_session_config_entry(key)
    else:
        assert options.get_session_config_entry(key) == "0"
        assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
