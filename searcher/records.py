"""Stored trials read back as plain records: what `frontier`, the dashboard and export read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from searcher import attrs


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
        value = self.attrs.get(key)
        return float(value) if value is not None else None


def read_records(study: optuna.Study) -> list[TrialRecord]:
    return [
        TrialRecord(trial.number, trial.state.name, status_of(trial), dict(trial.user_attrs))
        for trial in study.get_trials(deepcopy=False)
    ]


def status_of(trial: FrozenTrial) -> str:
    """divco's status; the trial state wins where they disagree (a killed worker's trial is
    FAIL while its attribute still says "training")."""
    status = trial.user_attrs.get(attrs.STATUS)
    if trial.state == TrialState.FAIL:
        return "failed"
    if trial.state in (TrialState.RUNNING, TrialState.WAITING):
        return trial.state.name.lower()
    return status or trial.state.name.lower()
