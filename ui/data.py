"""Stored results as tables for the dashboard. Reads the storage only; never writes to it."""

from __future__ import annotations

import re
from typing import Any

import optuna
import pandas as pd
import yaml

from searcher.study import attrs
from searcher.study.contest import standard_error
from searcher.study.frontier import FrontView, front_view, pareto_front, seed_mean
from searcher.study.records import TrialRecord, read_records
from searcher.study.running import duration, progress_text

COST_AXES = {
    "GFLOPs": attrs.GFLOPS,
    "parameters (M)": attrs.PARAMS_M,
    "latency, fastest way to run the ensemble (ms)": attrs.LATENCY_MS,
    "latency, batch 1, concurrent (ms)": "latency_concurrent_b1",
    "latency, batch 1, sequential (ms)": "latency_sequential_b1",
    "latency, batch 1, fused (ms)": "latency_fused_b1",
    "latency, throughput batch, concurrent (ms)": "latency_concurrent_throughput",
    "latency, throughput batch, sequential (ms)": "latency_sequential_throughput",
    "latency, throughput batch, fused (ms)": "latency_fused_throughput",
    "latency, batch 1, slowest member (ms)": "latency_slowest_member_b1",
}
SERIES = ("single network", "divided, co-trained", "independent ensemble", "heterogeneous ensemble",
          "wide then narrow")  # fmt: skip
COST_COLUMNS = (*COST_AXES.values(), "latency_undivided_b1")
HIDDEN_BY_DEFAULT = ("infeasible", "failed", "duplicate", "surplus", "running", "waiting")


def series_of(candidate: dict[str, Any]) -> str:
    """Which comparison series a trial belongs to (the dashboard's fourth tab)."""
    if candidate.get("members"):
        return SERIES[3]
    if candidate.get("networks", 1) == 1:
        return SERIES[0]
    if candidate.get("recipe", {}).get("init") == "wide_then_narrow":
        return SERIES[4]
    return (
        SERIES[1] if candidate.get("recipe", {}).get("mode", "cotrain") == "cotrain" else SERIES[2]
    )


def study_names(storage: str) -> list[str]:
    return sorted(optuna.study.get_all_study_names(storage))


def load_records(storage: str, study: str) -> list[TrialRecord]:
    """One fresh read of every trial (tests, scripts); the dashboard reads through ui.reader."""
    return read_records(optuna.load_study(study_name=study, storage=storage))


def to_frame(records: list[TrialRecord], study: str = "") -> pd.DataFrame:
    return frame_of([trial_row(r, study) for r in records])


def frame_of(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def trial_row(r: TrialRecord, study: str = "") -> dict[str, Any]:
    """One trial as a table row; a finished trial's row never changes, so the reader keeps it."""
    c = r.candidate
    row = {
        "study": study,
        "trial": r.number,
        "status": r.status,
        "label": r.label,
        "family": c.get("family", "?") if not c.get("members") else "mixed",
        "S": c.get("networks", len(c.get("members", [])) or 1),
        "width": c.get("width"),
        "depth": c.get("depth"),
        "groups": c.get("groups"),
        "image_size": c.get("image_size"),
        "series": series_of(c) if c else "?",
        "reference": bool(r.attrs.get(attrs.REFERENCE)),
        "accuracy": r.accuracy,
        # the front is on seed means (searcher/study/frontier.py): the trial's own run alone
        # until racing or `searcher confirm` gave it further seeds
        "mean_accuracy": seed_mean(r) if r.accuracy is not None else None,
        "seeds": (len(r.attrs.get(attrs.CONFIRM_SEEDS) or ()) or 1)
        if r.accuracy is not None
        else None,
        "test_accuracy": r.attrs.get(attrs.TEST_ACCURACY),
        "members": " ".join(f"{a:.3f}" for a in r.attrs.get(attrs.MEMBER_ACCURACIES, [])),
        "device": r.attrs.get(attrs.DEVICE),
        "train_s": r.attrs.get(attrs.TRAIN_SECONDS),
        # how latency_ms runs: "fused, channels_last", "concurrent, contiguous"
        "latency_how": ", ".join(
            str(r.attrs[k]) for k in (attrs.LATENCY_MODE, attrs.LATENCY_LAYOUT) if r.attrs.get(k)
        )
        or None,
        # rows whose timed calls never agreed (README: a budget reads their p90)
        "latency_unstable": ", ".join(r.attrs.get(attrs.LATENCY_UNSTABLE) or ()) or None,
        # `searcher confirm`: mean and sample std over seeds (None where not confirmed)
        "confirm_mean": r.attrs.get(attrs.CONFIRM_MEAN),
        "confirm_std": r.attrs.get(attrs.CONFIRM_STD),
        "confirm_seeds": len(r.attrs.get(attrs.CONFIRM_SEEDS) or ()) or None,
        **running_columns(r),
    }
    return row | {column: r.cost(column) for column in COST_COLUMNS}


def running_columns(r: TrialRecord) -> dict[str, Any]:
    """A running trial's stored progress (searcher/run/step_progress.py); None when finished."""
    figures = r.attrs.get(attrs.PROGRESS) if r.status == "running" else None
    figures = figures or {}
    return {
        "progress": progress_text(figures, None) or None,
        "trial_eta_s": figures.get("trial_eta_s"),
        "progress_updated": figures.get("updated"),
    }


def running_table(frame: pd.DataFrame, now: float) -> pd.DataFrame:
    """The running trials: how far each is, its ETA and how old those figures are."""
    if frame.empty:
        return pd.DataFrame(columns=RUNNING_COLUMNS)
    running = frame[frame["status"] == "running"]
    return pd.DataFrame(
        {
            "trial": running["trial"],
            "candidate": running["label"].fillna("(proposing)"),
            "progress": running["progress"].fillna("starting"),
            "trial ETA": running["trial_eta_s"].map(lambda s: "-" if pd.isna(s) else duration(s)),
            "updated": running["progress_updated"].map(
                lambda t: "-" if pd.isna(t) else f"{duration(now - t)} ago"
            ),
        },
        columns=RUNNING_COLUMNS,
    )


RUNNING_COLUMNS = ("trial", "candidate", "progress", "trial ETA", "updated")


def candidate_yaml(record: TrialRecord) -> str:
    """The candidate as YAML, for the one trial the detail tab shows (not for every row)."""
    return yaml.safe_dump(record.candidate, sort_keys=False) if record.candidate else ""


def base_label(label: str) -> str:
    """The undivided network of a trial, in `Candidate.label` style without the S
    (`ResNet-8 w16 S=4 @16px` -> `ResNet-8 w16 @16px`): the divide tab's line names."""
    return re.sub(r" S=\d+", "", label)


def front_numbers(records: list[TrialRecord], cost_key: str) -> list[int]:
    """Trial numbers on the Pareto front: the same function as `searcher frontier`."""
    return [r.number for r in pareto_front(records, cost_key)]


def view_of(records: list[TrialRecord], cost_key: str) -> FrontView:
    """The front with its seed spread and ties: `searcher frontier`'s view."""
    return front_view(records, cost_key)


def with_errors(frame: pd.DataFrame, view: FrontView, trials: set[int]) -> pd.DataFrame:
    """`frame`'s rows of `trials` with the standard error of each mean (one seed's spread at
    that accuracy / sqrt(seeds)) and the trials each is tied with (`tie with`)."""
    rows = frame[frame["trial"].isin(trials)].copy()
    rows["se"] = [standard_error(view.spread, float(m), float(n))
                  for m, n in zip(rows["mean_accuracy"], rows["seeds"], strict=True)]  # fmt: skip
    rows["tie with"] = [" ".join(f"#{n}" for n in view.ties.get(int(t), ())) for t in rows["trial"]]
    return rows
