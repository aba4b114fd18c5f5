"""Plain-text tables for the terminal (the dashboard draws the same data as charts)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from searcher.study import attrs
from searcher.study.frontier import FrontView, seed_mean
from searcher.study.records import TrialRecord
from searcher.study.running import progress_text
from searcher.study.seeds import paired_test

if TYPE_CHECKING:
    from space.budget import Budget
    from space.candidate import Candidate


def space_rows(candidates: Sequence[Candidate], budget: Budget) -> list[dict[str, Any]]:
    # costing builds the networks: torch is imported here, not by `searcher frontier`
    from space.budget import over_budget
    from space.cost import estimate
    from space.division import divide

    rows = []
    for c in sorted(candidates, key=lambda c: (estimate(c).gflops, c.label)):
        cost, member = estimate(c), divide(c)[0]
        reasons = over_budget(c, budget)
        rows.append(
            {
                "candidate": c.label,
                "S": c.networks,
                "member width": member.width,
                "member groups": member.groups,
                "GFLOPs": f"{cost.gflops:.4g}",
                "params M": f"{cost.params_m:.4g}",
                "budget": "over: " + "; ".join(reasons) if reasons else "fits",
            }
        )
    return rows


def latency_shown(stored: dict[str, Any]) -> str:
    """The latency the objective reads, marked `(unstable)` only when that row's own calls never
    agreed: another row's spread (a thread pool at batch 1, the throughput batch) says nothing
    about this number. Older trials without per-row flags fall back to any unstable row."""
    ms, mode = stored.get(attrs.LATENCY_MS), stored.get(attrs.LATENCY_MODE)
    rows = (stored.get(attrs.LATENCY) or {}).get("rows", [])
    row = next((r for r in rows if r["mode"] == mode and r["median_ms"] == ms), None)
    unstable = not row.get("stable", True) if row else bool(stored.get(attrs.LATENCY_UNSTABLE))
    return _fmt(ms) + (" (unstable)" if unstable else "")


def frontier_rows(
    records: Sequence[TrialRecord], view: FrontView | None = None
) -> list[dict[str, Any]]:
    """The front's rows; with `view`, accuracy is the seed mean ± its standard error, with the
    seeds behind it and the trials it is tied with (order not resolved by the seeds)."""
    rows = []
    for r in records:
        c = r.candidate
        rows.append(
            {
                "trial": r.number,
                "accuracy": f"{r.accuracy:.4f}" if view is None else mean_error(r, view),
                **({} if view is None else {"seeds": view.seeds(r), "tie with": tied(r, view)}),
                "GFLOPs": f"{r.attrs[attrs.GFLOPS]:.4g}",
                "params M": f"{r.attrs[attrs.PARAMS_M]:.4g}",
                "latency ms": latency_shown(r.attrs),
                "S": c.get("networks"),
                "width": c.get("width"),
                "family": c.get("family"),
                "image": c.get("image_size"),
                "members acc": " ".join(
                    f"{m:.3f}" for m in r.attrs.get(attrs.MEMBER_ACCURACIES, [])
                ),
            }
        )
    return rows


def mean_error(record: TrialRecord, view: FrontView) -> str:
    """`0.9712 ± 0.0058`: the mean over the trial's seeds ± the standard error of that mean."""
    return f"{seed_mean(record):.4f} ± {view.error(record):.4f}"


def tied(record: TrialRecord, view: FrontView) -> str:
    return " ".join(f"#{n}" for n in view.ties.get(record.number, ()))


def confirmed(record: TrialRecord) -> str:
    """`0.9712 ± 0.0031 (3)`: mean and sample std over the confirmed seeds, or `-`."""
    seeds = record.attrs.get(attrs.CONFIRM_SEEDS)
    if not seeds:
        return "-"
    mean, std = record.attrs[attrs.CONFIRM_MEAN], record.attrs[attrs.CONFIRM_STD]
    return f"{mean:.4f} ± {std:.4f} ({len(seeds)})"


def divide_rows(records: Sequence[TrialRecord]) -> list[dict[str, Any]]:
    """For each undivided network confirmed at S = 1 and at some S > 1: is the difference larger
    than the seed spread? A two-sided paired t-test over the seeds both share (p < 0.05)."""
    groups: dict[str, dict[int, TrialRecord]] = {}
    for r in records:
        c = r.candidate
        if r.attrs.get(attrs.CONFIRM_SEEDS) and not c.get("members"):
            base = json.dumps({k: v for k, v in c.items() if k != "networks"}, sort_keys=True)
            groups.setdefault(base, {})[c.get("networks", 1)] = r
    rows = []
    for by_s in groups.values():
        single = by_s.get(1)
        for networks, r in sorted(by_s.items()):
            test = paired_test(single.attrs[attrs.CONFIRM_SEEDS], r.attrs[attrs.CONFIRM_SEEDS]) if single and networks > 1 else None  # fmt: skip
            if test is None:
                continue
            rows.append({
                "S=1 trial": single.number, "trial": r.number, "candidate": r.label,
                "vs S=1 (points)": f"{100 * test.mean_difference:+.2f} ± {100 * test.std_difference:.2f}",
                "seeds": test.seeds, "p": f"{test.p_value:.3f}",
                "verdict": "beyond the seed spread" if test.beyond_seed_spread else "within the seed spread",
            })  # fmt: skip
    return rows


def confirm_rows(records: Sequence[TrialRecord]) -> list[dict[str, Any]]:
    """`searcher confirm`'s result: each trial's accuracy per seed and their mean ± std."""
    return [
        {
            "trial": r.number,
            "candidate": r.label,
            "search accuracy": f"{r.accuracy:.4f}",
            "seeds: mean ± std": confirmed(r),
            "per seed": " ".join(
                f"{seed}:{acc:.4f}"
                for seed, acc in (r.attrs.get(attrs.CONFIRM_SEEDS) or {}).items()
            ),
        }
        for r in records
    ]


def trial_rows(records: Sequence[TrialRecord]) -> list[dict[str, Any]]:
    """Every trial with its status: what a user reads after a crash or a resume."""
    rows = []
    for r in records:
        accuracy = r.accuracy if r.status in ("trained", "pruned", "duplicate") else None
        rows.append(
            {
                "trial": r.number,
                "status": r.status,
                "candidate": r.label if r.status != "waiting" else "(queued)",
                "ref": "yes" if r.attrs.get(attrs.REFERENCE) else "",
                "accuracy": "-" if accuracy is None else f"{accuracy:.4f}",
                "epochs": r.attrs.get(attrs.EPOCHS_RUN, "-"),
                "note": _note(r),
            }
        )
    return rows


def _note(record: TrialRecord) -> str:
    a = record.attrs
    if record.status == "running" and a.get(attrs.PROGRESS):
        return progress_text(a[attrs.PROGRESS], time.time())
    if record.status == "failed":
        error = a.get(attrs.ERROR)
        return f"error: {error}" if error else "killed (its worker stopped beating)"
    if a.get(attrs.DUPLICATE_OF) is not None:
        return f"same candidate as trial {a[attrs.DUPLICATE_OF]}"
    if a.get(attrs.OVER_BUDGET):
        return "over budget: " + "; ".join(a[attrs.OVER_BUDGET])
    if a.get(attrs.RETRY_OF) is not None:
        return f"retries trial {a[attrs.RETRY_OF]}"
    return ""


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def render(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "(no rows)"
    return tabulate(rows, headers="keys", tablefmt="simple", disable_numparse=True)
