"""Stage 1 of the search-efficiency benchmark: every candidate of a space trained once per seed.

The table (per candidate: GFLOPs, latency, and per seed the validation curve after each epoch)
is a JSON file written after every finished run, so an interrupted build resumes and a finished
one is only read. Several processes train at once (one CPU thread each, or sharing the GPU).
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from searcher.run.loop import SPLIT_SEED
from space.candidate import Candidate
from space.cost import estimate
from space.search_space import SearchSpace, load_space
from trainers import load_data, measure_latency, train

Table = dict[str, Any]


@functools.lru_cache(maxsize=4)
def table_space(name: str, epochs: int) -> SearchSpace:
    """The space as searched, with the recipe's epochs and no wall-clock limit (full curves)."""
    data = load_data("digits", seed=SPLIT_SEED)
    space = load_space(name).with_data(data.in_channels, data.num_classes)
    return space.with_recipe(epochs=epochs, time_limit_s=None)


def load_table(path: Path, space: SearchSpace, seeds: int) -> Table:
    meta = {"space": space.name, "fingerprint": space.fingerprint, "seeds": seeds,
            "epochs": space.recipe.epochs}  # fmt: skip
    if path.is_file():
        table = json.loads(path.read_text())
        if table["meta"] == meta:
            return table
        raise SystemExit(f"{path} was built for {table['meta']}, not {meta}; give another --table")
    return {"meta": meta, "rows": {}}


def missing_runs(table: Table, space: SearchSpace, seeds: int) -> list[tuple[dict, int]]:
    rows = table["rows"]
    return [
        (c.to_dict(), seed)
        for c in space.candidates()
        for seed in range(seeds)
        if str(seed) not in rows.get(c.id, {}).get("curves", {})
    ]


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _run(job: tuple[dict, int, str]) -> tuple[str, int, list[float], float]:
    """One training run (in a worker process): the candidate's curve and its batch-1 latency."""
    raw, seed, device = job
    candidate = Candidate.from_dict(raw)
    data = load_data("digits", seed=SPLIT_SEED)
    result = train(candidate, data, seed=seed, device=device)
    latency = measure_latency(candidate, (1,), device, warmup=2, repeats=5)
    curve = [report.val.accuracy for report in result.history]
    return candidate.id, seed, curve, latency.median_ms("concurrent", 1)


def build_table(
    path: Path,
    space: SearchSpace,
    seeds: int,
    device: str,
    workers: int,
    out: Callable[[str], None] = print,
    attempts: int = 3,
) -> Table:
    """Trains what the table lacks; a crashed worker process costs its run, not the build."""
    table = load_table(path, space, seeds)
    for _ in range(attempts):
        jobs = [(raw, seed, device) for raw, seed in missing_runs(table, space, seeds)]
        if not jobs:
            break
        threads = max(1, (os.cpu_count() or 1) // workers)
        out(f"training {len(jobs)} runs of {space.name} ({space.recipe.epochs} epochs) on "
            f"{device} with {workers} process(es) x {threads} thread(s); table {path}")  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            _train_jobs(path, table, space, jobs, workers, threads, out)
        except BrokenProcessPool as exc:
            out(f"a worker process died ({exc}); retrying the missing runs")
    return table


def _train_jobs(
    path: Path, table: Table, space: SearchSpace, jobs: list, workers: int, threads: int,
    out: Callable[[str], None],
) -> None:  # fmt: skip
    by_id = {c.id: c for c in space.candidates()}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, context, _init_worker, (threads,)) as pool:
        futures = [pool.submit(_run, job) for job in jobs]
        for done, future in enumerate(as_completed(futures), 1):
            cid, seed, curve, latency_ms = future.result()
            candidate = by_id[cid]
            row = table["rows"].setdefault(cid, {
                "label": candidate.label, "params": candidate.to_params(),
                "gflops": estimate(candidate).gflops, "latency_ms": latency_ms, "curves": {},
            })  # fmt: skip
            row["curves"][str(seed)] = curve
            _write(path, table)
            out(f"  [{done}/{len(jobs)}] {candidate.label} seed {seed}: {curve[-1]:.4f}")


def _write(path: Path, table: Table) -> None:
    """Atomically: an interrupted build never leaves a half-written table."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(table))
    partial.replace(path)
