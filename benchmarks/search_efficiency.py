"""Benchmark (not a test): what each search strategy pays, in epochs, for the front it reports.

Replay style, as NAS-Bench-201 evaluates search methods:
1. every candidate of a space (`--space`, a preset or a YAML path) is trained once per seed
   with an `--epochs` recipe and stored (per-epoch validation curve, GFLOPs, latency) in a JSON
   table that reruns reuse (efficiency_table.py);
2. for many random seeds, each strategy is replayed against the table without training
   (efficiency_replay.py): divco's front sampler, TPE or random proposals, a stopping rule (none, the cost-bucket
   median, MO-ASHA, or the calibrated rule, divco's default), and confirmation as `searcher run`
   does it (further seeds for contested points within `--confirm-share` of all epochs);
3. the front each replay *reports* (seed means of what it trained) is scored at the table's true
   means (efficiency_score.py); confirmation epochs are cost.

Printed per strategy: replays whose reported front reaches 99% of the true front's
hypervolume (accuracy vs log10 GFLOPs), the median epochs to get there and its ratio to random
search at full fidelity, the 5th percentile (and median) hypervolume at a fixed budget, and,
for the front reported when the replay ends (once it holds 99% and spent the fixed budget, or
at twice the cost of training every candidate once), the share of its points on the true front
and how far its reported accuracy overstates the truth (mean over points, in points); and the
same two for every strategy at one cost, that of training every candidate once.

    .venv/bin/python benchmarks/search_efficiency.py --epochs 6 --table benchmarks/tables/digits-e6-s3.json
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import time
from pathlib import Path
from typing import get_args

import optuna
from efficiency_chart import draw_curves
from efficiency_replay import (
    DEFAULT_STRATEGY,
    MAX_PROPOSALS,
    STRATEGIES,
    Outcome,
    Settings,
    entries,
    replay,
)  # fmt: skip
from efficiency_score import at_budget, epochs_to_reach, hypervolume, percentile
from efficiency_table import build_table, table_space
from tabulate import tabulate

from searcher.run import calibrated, racing
from searcher.study.open import ReferenceOrder
from space.errors import DivcoError

LEVEL = 0.99


def _replay_job(job: tuple) -> tuple[str, int, list]:
    strategy, seed, raw, space_name, epochs, budget, settings, goal, horizon, report_at = job
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = table_space(space_name, epochs)
    outcome = replay(strategy, seed, entries(raw), space, budget, settings, goal, horizon,
                     report_at)  # fmt: skip
    return strategy, seed, outcome


def run_replays(
    args: argparse.Namespace, raw: dict, settings: Settings, budget: int, goal: float,
    horizon: int, report_at: int,
) -> dict[str, list[Outcome]]:  # fmt: skip
    """Seed-major order, so replays cut short by --deadline-s still cover every strategy."""
    jobs = [(s, seed, raw, args.space, args.epochs, budget, settings, goal, horizon, report_at)
            for seed in range(args.replays) for s in args.strategies]  # fmt: skip
    traces: dict[str, list[Outcome]] = {s: [] for s in args.strategies}
    deadline = time.perf_counter() + args.deadline_s
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.workers) as pool:
        for strategy, _, outcome in pool.imap_unordered(_replay_job, jobs):
            traces[strategy].append(outcome)
            if time.perf_counter() > deadline:
                print(f"--deadline-s {args.deadline_s:g} reached: reporting the replays done")
                pool.terminate()
                break
    return traces


def summarise(
    outcomes: dict[str, list[Outcome]], best: float, budget_at: int, full: int
) -> list[list[str]]:
    """One row per strategy; epochs ratios against random search (with its confirmation)."""
    traces = {s: [o.trace for o in runs] for s, runs in outcomes.items()}
    reach = {s: [epochs_to_reach(t, LEVEL * best) for t in runs] for s, runs in traces.items()}
    baseline = percentile(reach["random"], 0.5) if reach.get("random") else math.nan
    fmt = lambda v: "never" if math.isinf(v) else f"{v:.0f}"  # noqa: E731
    rows = []
    for strategy, runs in traces.items():
        median = percentile(reach[strategy], 0.5)
        hv = [at_budget(t, budget_at).hypervolume / best for t in runs]
        end = [o.end for o in outcomes[strategy]]
        complete = [at_budget(t, full) for t in runs]  # every strategy at the same epochs
        rows.append([
            strategy + (" (default)" if strategy == DEFAULT_STRATEGY else ""),
            f"{sum(not math.isinf(r) for r in reach[strategy])}/{len(runs)}",
            f"{fmt(median)} ({fmt(percentile(reach[strategy], 0.25))}-"
            f"{fmt(percentile(reach[strategy], 0.75))})",
            "never" if math.isinf(median) else f"{median / baseline:.3f}",
            f"{percentile(hv, 0.05):.3f} / {percentile(hv, 0.5):.3f}",
            f"{100 * statistics.fmean(s.on_front for s in end):.1f}%",
            f"{100 * statistics.fmean(s.overstatement for s in end):+.2f}",
            f"{100 * statistics.fmean(s.on_front for s in complete):.1f}% / "
            f"{100 * statistics.fmean(s.overstatement for s in complete):+.2f}",
        ])  # fmt: skip
    return rows


HEADERS = ["strategy", "reached 99% HV", "epochs to 99% (25-75%)", "/ random",
           "HV at budget p5 / median", "end: on true front", "end: overstated (points)",
           "at full cost: on front / overstated"]  # fmt: skip


def draw(path: Path, outcomes: dict[str, list[Outcome]], best: float, budget: int) -> None:
    xs = [budget * i / 100 for i in range(101)]
    series = {}
    for strategy, runs in outcomes.items():
        grid = [[at_budget(o.trace, int(x)).hypervolume / best for o in runs] for x in xs]
        series[strategy] = tuple([percentile(g, q) for g in grid] for q in (0.5, 0.25, 0.75))
    draw_curves(path, xs, series, "reported front's hypervolume at the truth against epochs",
                "epochs trained (confirmation included)", "fraction of the true front's hypervolume")  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="digits", help="a preset name or a space YAML")
    parser.add_argument("--epochs", type=int, default=6, help="the recipe's epochs in the table")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per candidate")
    parser.add_argument("--replays", type=int, default=200, help="random seeds per strategy")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--min-epochs", type=int, default=2, help="the lowest rung")
    parser.add_argument("--confirm-share", type=float, default=racing.CONFIRM_SHARE)
    parser.add_argument("--confirm-cap", type=int, default=racing.CAP)
    parser.add_argument("--hedge", type=float, default=calibrated.HEDGE)
    parser.add_argument("--evidence", type=int, default=calibrated.EVIDENCE)
    parser.add_argument("--max-miss", type=float, default=calibrated.MAX_MISS)
    parser.add_argument("--prior", type=float, default=calibrated.PRIOR_SPREAD,
                        help="the calibrated rule's seed spread at a rung before one is measured")  # fmt: skip
    parser.add_argument("--budget-fraction", type=float, default=0.5,
                        help="the fixed budget, as a fraction of training every candidate once")  # fmt: skip
    parser.add_argument("--references", choices=get_args(ReferenceOrder), default="last",
                        help="when divco and TPE train the space's references")  # fmt: skip
    parser.add_argument("--device", default="auto", help="for the table: cpu, cuda, auto")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--table", type=Path,
                        help="default runs/search_efficiency/<space>-e<epochs>-s<seeds>.json")  # fmt: skip
    parser.add_argument("--png", type=Path, default=Path("runs/search_efficiency/hypervolume.png"))
    parser.add_argument("--table-only", action="store_true", help="build the table, replay nothing")
    parser.add_argument("--deadline-s", type=float, default=math.inf,
                        help="stop replaying after this long and report what is done")  # fmt: skip
    return parser.parse_args()


def settings_of(args: argparse.Namespace) -> Settings:
    stopper = {"hedge": args.hedge, "evidence": args.evidence, "max_miss": args.max_miss,
               "prior": args.prior}  # fmt: skip
    return Settings(args.eta, args.min_epochs, args.confirm_share, args.confirm_cap,
                    stopper=stopper, references=args.references)  # fmt: skip


def main() -> None:
    args = parse_args()
    if args.device == "auto":
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        space = table_space(args.space, args.epochs)
    except DivcoError as exc:
        raise SystemExit(f"error: {exc}") from None
    path = args.table or Path(
        f"runs/search_efficiency/{space.name}-e{args.epochs}-s{args.seeds}.json"
    )
    start = time.perf_counter()
    raw = build_table(path, space, args.seeds, args.device, args.workers)
    print(f"table: {len(raw['rows'])} candidates x {args.seeds} seeds, {path} "
          f"({time.perf_counter() - start:.0f} s)")  # fmt: skip
    if args.table_only:
        return
    report(args, raw)


def report(args: argparse.Namespace, raw: dict) -> None:
    table = entries(raw)
    truth = [(e.truth, math.log10(e.gflops)) for e in table.values()]
    ref = (min(a for a, _ in truth), max(c for _, c in truth))
    best = hypervolume(truth, ref)
    full = len(table) * args.epochs
    budget_at = round(full * args.budget_fraction)
    settings = settings_of(args)
    start = time.perf_counter()
    traces = run_replays(args, raw, settings, full * 2, LEVEL * best, full, budget_at)
    print(f"replayed {args.replays} seeds x {len(traces)} strategies in "
          f"{time.perf_counter() - start:.0f} s; {settings}; training every candidate once "
          f"costs {full} epochs, the fixed budget is {budget_at}; a replay ends once it holds "
          f"99% and spent {budget_at} (or at {full * 2} epochs, {MAX_PROPOSALS} proposals); "
          f"it runs on to {full} for the last column")  # fmt: skip
    print(tabulate(summarise(traces, best, budget_at, full), headers=HEADERS))
    draw(args.png, traces, best, full)
    print(f"curves: {args.png}")


if __name__ == "__main__":
    main()
