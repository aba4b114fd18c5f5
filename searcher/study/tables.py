"""Plain-text tables for the terminal (the dashboard draws the same data as charts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from searcher.study import attrs
from searcher.study.records import TrialRecord
from space.budget import Budget, over_budget
from space.candidate import Candidate
from space.cost import estimate
from space.division import divide


def space_rows(candidates: Sequence[Candidate], budget: Budget) -> list[dict[str, Any]]:
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


def frontier_rows(records: Sequence[TrialRecord]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        c = r.candidate
        rows.append(
            {
                "trial": r.number,
                "accuracy": f"{r.accuracy:.4f}",
                "GFLOPs": f"{r.attrs[attrs.GFLOPS]:.4g}",
                "params M": f"{r.attrs[attrs.PARAMS_M]:.4g}",
                "latency ms": _fmt(r.attrs.get(attrs.LATENCY_MS)),
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


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def render(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "(no rows)"
    return tabulate(rows, headers="keys", tablefmt="simple", disable_numparse=True)
