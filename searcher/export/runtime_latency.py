"""Latency of an exported `model.onnx` in ONNX Runtime (CPU provider): what a user deploys.

PyTorch's numbers in the trial's latency table say how fast the candidate ran during the search;
these say how fast the exported file runs. Sequential execution always; ONNX Runtime's parallel
execution mode too where the graph holds the S members as separate branches.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

ExecutionMode = Literal["sequential", "parallel"]
PROVIDER = "CPUExecutionProvider"


def cpu_threads() -> int:
    """The cores this process may run on (ONNX Runtime's default counts all of the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _session(path: Path, mode: ExecutionMode) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = cpu_threads()
    options.execution_mode = (
        onnxruntime.ExecutionMode.ORT_PARALLEL
        if mode == "parallel"
        else onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    )
    return onnxruntime.InferenceSession(str(path), options, providers=[PROVIDER])


def _times(session: Any, images: np.ndarray, warmup: int, repeats: int) -> list[float]:
    name = session.get_inputs()[0].name
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        session.run(None, {name: images})
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return times


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

    rng = np.random.default_rng(0)
    rows = []
    for mode in modes:
        session = _session(path, mode)
        for batch in batches:
            images = rng.random((batch, *image_shape), dtype=np.float32)
            times = _times(session, images, warmup, repeats)
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
