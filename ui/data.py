"""Stored results as tables for the dashboard. Reads the storage only; never writes to it."""

from __future__ import annotations

from typing import Any

import optuna
import pandas as pd
import yaml

from searcher.study import attrs
from searcher.study.frontier import pareto_front
from searcher.study.records import TrialRecord, read_records

COST_AXES = {
    "GFLOPs": attrs.GFLOPS,
    "parameters (M)": attrs.PARAMS_M,
    "latency, batch 1, concurrent (ms)": "latency_concurrent_b1",
    "latency, batch 1, sequential (ms)": "latency_sequential_b1",
    "latency, throughput batch, concurrent (ms)": "latency_concurrent_throughput",
    "latency, throughput batch, sequential (ms)": "latency_sequential_throughput",
    "latency, batch 1, slowest member (ms)": "latency_slowest_member_b1",
}
SERIES = ("single network", "divided, co-trained", "independent ensemble", "heterogeneous ensemble")
HIDDEN_BY_DEFAULT = ("infeasible", "failed", "duplicate", "surplus", "running", "waiting")


def series_of(candidate: dict[str, Any]) -> str:
    """Which comparison series a trial belongs to (the dashboard's fourth tab)."""
    if candidate.get("members"):
        return SERIES[3]
    if candidate.get("networks", 1) == 1:
        return SERIES[0]
    return (
        SERIES[1] if candidate.get("recipe", {}).get("mode", "cotrain") == "cotrain" else SERIES[2]
    )


def study_names(storage: str) -> list[str]:
    return sorted(optuna.study.get_all_study_names(storage))


def load_records(storage: str, study: str) -> list[TrialRecord]:
    return read_records(optuna.load_study(study_name=study, storage=storage))


def to_frame(records: list[TrialRecord], study: str = "") -> pd.DataFrame:
    rows = []
    for r in records:
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
            "accuracy": r.accuracy,
            "test_accuracy": r.attrs.get(attrs.TEST_ACCURACY),
            "members": " ".join(f"{a:.3f}" for a in r.attrs.get(attrs.MEMBER_ACCURACIES, [])),
            "device": r.attrs.get(attrs.DEVICE),
            "train_s": r.attrs.get(attrs.TRAIN_SECONDS),
            "candidate_yaml": yaml.safe_dump(c, sort_keys=False) if c else "",
        }
        row |= {column: r.cost(column) for column in (*COST_AXES.values(), "latency_undivided_b1")}
        rows.append(row)
    return pd.DataFrame(rows)


def front_numbers(records: list[TrialRecord], cost_key: str) -> list[int]:
    """Trial numbers on the Pareto front: the same function as `searcher frontier`."""
    return [r.number for r in pareto_front(records, cost_key)]
