"""Benchmark (not a test): what each search strategy pays, in epochs, for a good front.

Replay style, as NAS-Bench-201 evaluates search methods:
1. every candidate of the `digits` space is trained once per seed and stored (per-epoch
   validation curve, GFLOPs, batch-1 latency) in a JSON table under runs/ that reruns reuse;
2. for many random seeds, each strategy is replayed against the table without training:
   random search at full fidelity, divco's TPE without early stopping, TPE with the cost-bucket
   median stopper, TPE with MO-ASHA (divco's default), and random search with MO-ASHA.
A replayed search's cost is the epochs it trained. Printed per strategy: the epochs to reach 99%
of the table's hypervolume (accuracy vs log10 GFLOPs; median and 25-75%) and the hypervolume
after a fixed epoch budget; the hypervolume-vs-epochs curves are drawn to a PNG.

    .venv/bin/python benchmarks/search_efficiency.py --epochs 6 --seeds 3 --replays 50 --workers 8
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import time
from pathlib import Path

import optuna
from efficiency_chart import draw_curves
from efficiency_replay import (
    DEFAULT_STRATEGY,
    MAX_PROPOSALS,
    STRATEGIES,
    entries,
    epochs_to_reach,
    hypervolume,
    hypervolume_at,
    reference_point,
    replay,
)
from efficiency_table import build_table, table_space
from tabulate import tabulate

LEVEL = 0.99


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between order statistics; inf (not reached) stays inf."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    if math.isinf(high):
        return high
    return low + (high - low) * (position - math.floor(position))


def _replay_job(job: tuple) -> tuple[str, int, list[tuple[int, float]]]:
    strategy, seed, raw, space_name, epochs, budget, eta, min_epochs, goal, horizon = job
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = table_space(space_name, epochs)
    trace = replay(strategy, seed, entries(raw), space, budget, eta, min_epochs, goal, horizon)
    return strategy, seed, trace


def run_replays(
    args: argparse.Namespace, raw: dict, budget: int, goal: float, horizon: int
) -> dict[str, list]:
    """Seed-major order, so replays cut short by --deadline-s still cover every strategy."""
    jobs = [(s, seed, raw, args.space, args.epochs, budget, args.eta, args.min_epochs, goal,
             horizon) for seed in range(args.replays) for s in args.strategies]  # fmt: skip
    traces: dict[str, list] = {s: [] for s in args.strategies}
    deadline = time.perf_counter() + args.deadline_s
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.workers) as pool:
        for strategy, _, trace in pool.imap_unordered(_replay_job, jobs):
            traces[strategy].append(trace)
            if time.perf_counter() > deadline:
                print(f"--deadline-s {args.deadline_s:g} reached: reporting the replays done")
                pool.terminate()
                break
    return traces


def summarise(traces: dict[str, list], best: float, budget_at: int) -> list[list[str]]:
    rows = []
    for strategy, runs in traces.items():
        reach = [epochs_to_reach(t, LEVEL * best) for t in runs]
        at = [hypervolume_at(t, budget_at) / best for t in runs]
        fmt = lambda v: "never" if math.isinf(v) else f"{v:.0f}"  # noqa: E731
        rows.append([
            strategy + (" (divco default)" if strategy == DEFAULT_STRATEGY else ""),
            fmt(percentile(reach, 0.5)),
            f"{fmt(percentile(reach, 0.25))}-{fmt(percentile(reach, 0.75))}",
            f"{sum(not math.isinf(r) for r in reach)}/{len(reach)}",
            f"{percentile(at, 0.5):.3f}",
            f"{percentile(at, 0.25):.3f}-{percentile(at, 0.75):.3f}",
        ])  # fmt: skip
    return rows


def draw(path: Path, traces: dict[str, list], best: float, budget: int) -> None:
    xs = [budget * i / 100 for i in range(101)]
    series = {}
    for strategy, runs in traces.items():
        grid = [[hypervolume_at(t, int(x)) / best for t in runs] for x in xs]
        series[strategy] = tuple([percentile(g, q) for g in grid] for q in (0.5, 0.25, 0.75))
    draw_curves(path, xs, series, "hypervolume (accuracy vs log10 GFLOPs) against epochs trained",
                "epochs trained", "fraction of the table's hypervolume")  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="digits")
    parser.add_argument("--epochs", type=int, default=6, help="the recipe's epochs in the table")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per candidate")
    parser.add_argument("--replays", type=int, default=50, help="random seeds per strategy")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--min-epochs", type=int, default=2, help="MO-ASHA's lowest rung")
    parser.add_argument("--budget-fraction", type=float, default=1 / 3,
                        help="the fixed budget, as a fraction of training every candidate once")  # fmt: skip
    parser.add_argument("--device", default="auto", help="for the table: cpu, cuda, auto")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument(
        "--table", type=Path, help="default runs/search_efficiency/<space>-e<epochs>-s<seeds>.json"
    )
    parser.add_argument("--png", type=Path, default=Path("runs/search_efficiency/hypervolume.png"))
    parser.add_argument("--table-only", action="store_true", help="build the table, replay nothing")
    parser.add_argument("--deadline-s", type=float, default=math.inf,
                        help="stop replaying after this long and report what is done")  # fmt: skip
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.device == "auto":
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    space = table_space(args.space, args.epochs)
    path = args.table or Path(
        f"runs/search_efficiency/{args.space}-e{args.epochs}-s{args.seeds}.json"
    )
    start = time.perf_counter()
    raw = build_table(path, space, args.seeds, args.device, args.workers)
    print(f"table: {len(raw['rows'])} candidates x {args.seeds} seeds, {path} "
          f"({time.perf_counter() - start:.0f} s)")  # fmt: skip
    if args.table_only:
        return
    table = entries(raw)
    ref = reference_point(table)
    best = hypervolume([(e.truth, math.log10(e.gflops)) for e in table.values()], ref)
    full = len(table) * args.epochs
    budget_at = round(full * args.budget_fraction)
    start = time.perf_counter()
    traces = run_replays(args, raw, full * 2, LEVEL * best, horizon=max(budget_at, full // 2))
    print(f"replayed {args.replays} seeds x {len(traces)} strategies in "
          f"{time.perf_counter() - start:.0f} s; reference point (accuracy {ref[0]:.4f}, "
          f"log10 GFLOPs {ref[1]:.3f}); best hypervolume {best:.4f}; training every candidate "
          f"once costs {full} epochs; a replay stops at {full * 2} epochs, {MAX_PROPOSALS} proposals, "
          f"or once it holds 99% and spent {max(budget_at, full // 2)} epochs")  # fmt: skip
    rows = summarise(traces, best, budget_at)
    print(tabulate(rows, headers=["strategy", "epochs to 99% HV (median)", "25-75%", "reached",
                                  f"HV at {budget_at} epochs", "25-75%"]))  # fmt: skip
    reach = {s: percentile([epochs_to_reach(t, LEVEL * best) for t in r], 0.5)
             for s, r in traces.items()}  # fmt: skip
    if "random" in reach and DEFAULT_STRATEGY in reach:
        print(f"ratio {DEFAULT_STRATEGY} / random at full fidelity, epochs to 99% HV: "
              f"{reach[DEFAULT_STRATEGY] / reach['random']:.3f} (goal <= 0.333)")  # fmt: skip
    draw(args.png, traces, best, full)
    print(f"curves: {args.png}")


if __name__ == "__main__":
    main()
