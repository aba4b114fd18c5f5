"""Stored trials read back as plain records: what `frontier`, the dashboard and export read."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from searcher.study import attrs
from searcher.study.seeds import confirmations, summary


@dataclass(frozen=True)
class TrialRecord:
    number: int
    state: str  # Optuna's trial state name
    status: str  # divco's status (attrs.Status), "running" while under way
    attrs: dict[str, Any]

    @property
    def candidate(self) -> dict[str, Any]:
        return self.attrs.get(attrs.CANDIDATE, {})

    @property
    def label(self) -> str:
        return self.attrs.get(attrs.LABEL, "?")

    @property
    def accuracy(self) -> float | None:
        return self.attrs.get(attrs.ACCURACY)

    def cost(self, key: str) -> float | None:
        """A stored cost (`gflops`, `params_m`, `latency_ms`) or a latency-table cell named
        `latency_<sequential|concurrent|fused|undivided>_<b1|throughput>` (smallest / largest
        batch)."""
        value = (
            latency_cell(self.attrs.get(attrs.LATENCY), key)
            if key.startswith("latency_") and key != attrs.LATENCY_MS
            else self.attrs.get(key)
        )
        return float(value) if value is not None else None


LATENCY_CELLS = {
    f"latency_{mode}_{batch}": (mode, batch)
    for mode in ("concurrent", "sequential", "fused", "undivided", "slowest_member")
    for batch in ("b1", "throughput")
}


def latency_cell(table: dict[str, Any] | None, key: str) -> float | None:
    if not table or key not in LATENCY_CELLS:
        return None
    mode, which = LATENCY_CELLS[key]
    rows = [row for row in table["rows"] if row["mode"] == mode]
    if not rows:
        return None
    pick = min if which == "b1" else max
    return pick(rows, key=lambda row: row["batch"])["median_ms"]


def trials_of(study: optuna.Study, trials: list[FrozenTrial] | None) -> list[FrozenTrial]:
    """`trials` when the caller read the study already (one read per step of the search loop:
    with many workers each read of every running trial costs), else a fresh read."""
    return trials if trials is not None else study.get_trials(deepcopy=False)


def read_records(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> list[TrialRecord]:
    """Every trial (`trials` when the caller read them already), with its seed confirmations
    (searcher/study/seeds.py) among its attrs."""
    records = [
        TrialRecord(trial.number, trial.state.name, status_of(trial), dict(trial.user_attrs))
        for trial in trials_of(study, trials)
    ]
    return with_confirmations(records, study.user_attrs)


def status_of(trial: FrozenTrial) -> str:
    return status_from(trial.state, trial.user_attrs.get(attrs.STATUS))


def status_from(state: TrialState, status: str | None) -> str:
    """divco's status; the trial state wins where they disagree (a killed worker's trial is
    FAIL while its attribute still says "training")."""
    if state == TrialState.FAIL:
        return "failed"
    if state in (TrialState.RUNNING, TrialState.WAITING):
        return state.name.lower()
    return status or state.name.lower()


def with_confirmations(
    records: Sequence[TrialRecord], study_attrs: Mapping[str, Any]
) -> list[TrialRecord]:
    confirmed = confirmations(study_attrs)
    return [
        dataclasses.replace(r, attrs=r.attrs | summary(confirmed[r.number]))
        if confirmed.get(r.number)
        else r
        for r in records
    ]
