"""Stored trials read back as plain records: what `frontier`, the dashboard and export read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna

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
    records = []
    for trial in study.get_trials(deepcopy=False):
        status = trial.user_attrs.get(attrs.STATUS)
        if status is None:
            status = (
                "running"
                if trial.state.name in ("RUNNING", "WAITING")
                else trial.state.name.lower()
            )
        records.append(TrialRecord(trial.number, trial.state.name, status, dict(trial.user_attrs)))
    return records
