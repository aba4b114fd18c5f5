"""A stored study's results as data: points of the front (what `searcher frontier --format
json|csv` prints) and pandas data frames for notebooks.

Reads the study with plain SQL as `searcher frontier` does (no torch, flat memory), with the
seed confirmations of `searcher confirm` merged in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from searcher.study import attrs
from searcher.study.frontier import front_view
from searcher.study.open import OBJECTIVE_ATTRS, load_existing_study
from searcher.study.records import TrialRecord, with_confirmations
from searcher.study.snapshot import read_snapshot
from searcher.study.storage import default_storage_url, open_storage

if TYPE_CHECKING:  # pandas is imported by the functions that build frames
    import pandas as pd

Cost = Literal["gflops", "params_m", "latency"]
# The columns of a point, in order (a CSV header; `candidate` and `seeds` are JSON in a cell).
POINT_KEYS = ("trial", "status", "label", "accuracy", "accuracy_mean", "accuracy_std",
              "seeds", "gflops", "params_m", "latency_ms", "latency_mode", "latency_stable",
              "candidate", "tie_with")  # fmt: skip


def point(record: TrialRecord, tie_with: Sequence[int] = ()) -> dict[str, Any]:
    """One trial as plain JSON values. `accuracy` is the search's (one seed); `accuracy_mean`
    and `accuracy_std` are over every seed (racing and `searcher confirm`), `std` null with one
    seed; `seeds` maps each seed to its validation accuracy; `tie_with`: the trials whose order
    against this front point the seeds have not resolved."""
    a = record.attrs
    seeds = a.get(attrs.CONFIRM_SEEDS) or (
        {str(a[attrs.SEED]): record.accuracy}
        if a.get(attrs.SEED) is not None and record.accuracy is not None
        else {}
    )
    several = len(seeds) > 1
    return {
        "trial": record.number,
        "status": record.status,
        "label": record.label,
        "accuracy": record.accuracy,
        "accuracy_mean": a[attrs.CONFIRM_MEAN] if several else record.accuracy,
        "accuracy_std": a[attrs.CONFIRM_STD] if several else None,
        "seeds": seeds,
        "gflops": a.get(attrs.GFLOPS),
        "params_m": a.get(attrs.PARAMS_M),
        "latency_ms": a.get(attrs.LATENCY_MS),
        "latency_mode": a.get(attrs.LATENCY_MODE),
        "latency_stable": latency_stable(a),
        "candidate": record.candidate,
        "tie_with": list(tie_with),
    }


def latency_stable(stored: dict[str, Any]) -> bool | None:
    """Whether the calls of the row `latency_ms` reads agreed (None: no latency stored)."""
    ms, mode = stored.get(attrs.LATENCY_MS), stored.get(attrs.LATENCY_MODE)
    if ms is None:
        return None
    rows = (stored.get(attrs.LATENCY) or {}).get("rows", [])
    row = next((r for r in rows if r["mode"] == mode and r["median_ms"] == ms), None)
    return bool(row.get("stable", True)) if row else not stored.get(attrs.LATENCY_UNSTABLE)


def csv_cells(points: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Points with their nested values as JSON text, one CSV cell each."""
    return [
        {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in p.items()}
        for p in points
    ]


@dataclass(frozen=True)
class Study:
    """A stored study: its storage URL and name. Every method reads the storage afresh, so a
    study that other workers are growing shows their latest trials."""

    storage: str
    name: str

    def records(self) -> list[TrialRecord]:
        """Every trial in number order, with its seed confirmations."""
        optuna_storage = open_storage(self.storage)
        study = load_existing_study(optuna_storage, self.name)
        return with_confirmations(read_snapshot(optuna_storage, self.name), study.user_attrs)

    def points(self, cost: Cost = "gflops", every: bool = False) -> list[dict[str, Any]]:
        """The accuracy-cost Pareto front, cheapest first (`every`: all trials by number)."""
        records = self.records()
        view = front_view(records, OBJECTIVE_ATTRS.get(cost, cost))  # seed means, ties
        chosen = records if every else view.front
        return [point(r, view.ties.get(r.number, ())) for r in chosen]

    def front(self, cost: Cost = "gflops") -> pd.DataFrame:
        """The front as a data frame, one row per point, indexed by trial number."""
        return _frame(self.points(cost))

    def trials(self) -> pd.DataFrame:
        """Every trial: its state and status, then one column per stored attribute."""
        import pandas as pd

        rows = [
            {"trial": r.number, "state": r.state, "status": r.status} | r.attrs
            for r in self.records()
        ]
        return pd.DataFrame(rows, columns=_columns(rows)).set_index("trial")

    def export(
        self, out: str | Path, trial: int | None = None, force: bool = False, **budget: float
    ) -> Path:
        """`searcher export`: the trial, or the most accurate one (within `budget_gflops=`,
        `budget_params_m=`, `budget_latency_ms=`), verified, as files in `out`; `force`
        replaces a non-empty `out`. Returns `out`, for `load_torch` and `load_onnx`."""
        from searcher.api.exported import budget_from_keywords, export_trial

        return export_trial(
            self.storage, self.name, Path(out), trial,
            budget=budget_from_keywords(budget), force=force,
        )  # fmt: skip


def _frame(points: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(points, columns=list(POINT_KEYS)).set_index("trial")


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {"trial": None, "state": None, "status": None}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def open_study(
    storage: str | None = None, study: str | None = None, runs_dir: str | Path = "runs"
) -> Study:
    """A stored study (the only one in the storage when `study` is None); the default storage
    is `searcher run`'s, the sqlite file under `runs_dir`."""
    url = storage or default_storage_url(Path(runs_dir))
    return Study(url, load_existing_study(open_storage(url), study).study_name)
