"""Latency in ONNX Runtime (CPU provider): what a user deploys.

`onnxruntime_latency` times an exported `model.onnx` (the export's manifest): sequential
execution always, ONNX Runtime's parallel execution mode too where the graph holds the S members
as separate branches. `onnxruntime_table` is a trial's whole latency table measured that way
(`searcher run --latency-runtime onnxruntime`), tagged with the runtime.
"""

from __future__ import annotations

import functools
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from space.candidate import Candidate
from space.division import build, undivided
from trainers.measure.latency import (
    LatencyRow,
    LatencyTable,
    Mode,
    Stability,
    fused_members,
    measured_row,
    timed_calls,
)
from trainers.measure.onnx_graph import OUTPUTS, DeployableEnsemble, write_onnx
from trainers.train.ensemble import Ensemble

ExecutionMode = Literal["sequential", "parallel"]
PROVIDER = "CPUExecutionProvider"


def cpu_threads() -> int:
    """The cores this process may run on (ONNX Runtime's default counts all of the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def open_session(path: Path, mode: ExecutionMode = "sequential", spin: bool = True) -> Any:
    """An ONNX Runtime session on the CPU provider, one intra-op thread per usable core. With
    `spin=False` its threads sleep between calls instead of busy-waiting (ONNX Runtime's
    default), so timing it in turn with PyTorch does not slow PyTorch down."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = cpu_threads()
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.execution_mode = (
        onnxruntime.ExecutionMode.ORT_PARALLEL
        if mode == "parallel"
        else onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    )
    return onnxruntime.InferenceSession(str(path), options, providers=[PROVIDER])


def onnxruntime_latency(
    path: Path,
    image_shape: Sequence[int],
    batches: Sequence[int],
    modes: Sequence[ExecutionMode] = ("sequential",),
    warmup: int = 3,
    repeats: int = 10,
) -> dict[str, Any]:
    """`{runtime, provider, threads, rows: [{mode, batch, median_ms, p90_ms}]}` for `path` on
    random images of `image_shape` (C x H x W)."""
    import onnxruntime

    exactly = Stability(warmup, repeats, repeats, max_seconds=math.inf)  # `repeats` timed calls
    rng = np.random.default_rng(0)
    rows = []
    for mode in modes:
        session = open_session(path, mode)
        for batch in batches:
            images = rng.random((batch, *image_shape), dtype=np.float32)
            call = functools.partial(session.run, None, {session.get_inputs()[0].name: images})
            times = timed_calls(call, torch.device("cpu"), exactly)
            p90 = statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0]
            rows.append(
                {"mode": mode, "batch": batch, "median_ms": statistics.median(times), "p90_ms": p90}
            )
    return {
        "runtime": f"onnxruntime {onnxruntime.__version__}",
        "provider": PROVIDER,
        "threads": cpu_threads(),
        "rows": rows,
    }


def describe(latency: dict[str, Any]) -> str:
    """One line for the export summary: `batch 1: 2.1 ms sequential, 1.8 ms parallel; ...`."""
    batches: dict[int, list[str]] = {}
    for row in latency["rows"]:
        batches.setdefault(row["batch"], []).append(f"{row['median_ms']:.3g} ms {row['mode']}")
    parts = [f"batch {batch}: {', '.join(cells)}" for batch, cells in sorted(batches.items())]
    return f"ONNX Runtime latency ({latency['provider']}): " + "; ".join(parts)


def onnxruntime_table(
    candidate: Candidate,
    batches: Sequence[int],
    members: Sequence[nn.Module] | None = None,
    policy: Stability | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> LatencyTable:
    """The trial's latency table measured in ONNX Runtime (CPU provider) instead of PyTorch:
    the untrained ensemble exported as the deployable graphs (to a temporary folder), each timed
    on random images until its calls agree (`Stability`). Modes as in PyTorch's table:
    sequential / concurrent are the per-member graph in ONNX Runtime's sequential / parallel
    execution mode, fused the fused graph, undivided the S=1 network, slowest_member each
    distinct member's own graph."""
    import onnxruntime

    policy = policy or Stability()
    members = [m.eval() for m in (members or build(candidate))]
    aggregation, channels = candidate.recipe.aggregation, candidate.in_channels
    example = torch.rand(2, channels, candidate.image_size, candidate.image_size)
    graphs: dict[str, nn.Module] = {"members": Ensemble(members, aggregation)}
    fused = fused_members(candidate, members, example[:1])
    if fused is not None:
        graphs["fused"] = fused
    graphs["undivided"] = Ensemble(build(undivided(candidate)), aggregation)
    distinct = members if candidate.members else members[:1]  # divided members are identical
    graphs |= {f"member{i}": Ensemble([m], aggregation) for i, m in enumerate(distinct)}
    with tempfile.TemporaryDirectory() as folder:
        paths = {name: _export(model, Path(folder) / f"{name}.onnx", example) for name, model in graphs.items()}  # fmt: skip
        sessions: list[tuple[Mode, Any]] = [
            ("sequential", open_session(paths["members"], "sequential")),
            ("concurrent", open_session(paths["members"], "parallel")),
            *((m, open_session(paths[m], "sequential")) for m in ("fused", "undivided") if m in paths),
            *(("slowest_member", open_session(paths[f"member{i}"], "sequential")) for i in range(len(distinct))),
        ]  # fmt: skip
        rows = _rows(sessions, (channels, candidate.image_size), batches, policy, clock)
    return LatencyTable(
        f"cpu ({cpu_threads()} threads)",
        tuple(rows),
        runtime=f"onnxruntime {onnxruntime.__version__}",
    )


def _export(model: nn.Module, path: Path, example: Tensor) -> Path:
    channels = example.shape[1]
    deployable = DeployableEnsemble(model, (0.5,) * channels, (0.25,) * channels)
    return write_onnx(deployable.eval(), path, example, OUTPUTS)


def _rows(
    sessions: Sequence[tuple[Mode, Any]],
    shape: tuple[int, int],
    batches: Sequence[int],
    policy: Stability,
    clock: Callable[[], float],
) -> list[LatencyRow]:
    """One row per mode and batch; of the member graphs only the slowest is kept."""
    rng, cpu, rows = np.random.default_rng(0), torch.device("cpu"), []
    for batch in batches:
        images = rng.random((batch, shape[0], shape[1], shape[1]), dtype=np.float32)
        alone = []
        for mode, session in sessions:
            call = functools.partial(session.run, None, {session.get_inputs()[0].name: images})
            measure = functools.partial(timed_calls, call, cpu, policy, clock)
            row = measured_row(mode, batch, measure, policy, layout=None)  # a graph: no layout
            (alone if mode == "slowest_member" else rows).append(row)
        rows.append(max(alone, key=lambda r: r.median_ms))
    return rows
