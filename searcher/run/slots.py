"""The slots of a study's trial target: trainings that used one and those that hold one now.

Trials and confirmation runs (searcher/run/race_step.py) take slots alike. Kept apart from the
search loop so that a stand-in worker (benchmarks/control_plane_standin.py) counts as it does
without loading torch.
"""

from __future__ import annotations

import time
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from searcher.run.claim import counts_toward_target
from searcher.study.records import trials_of
from searcher.study.seeds import confirmation_runs, live_claims


def trained_count(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> tuple[int, int]:
    """(finished trials that count toward the target, trials training right now)."""
    trials = trials_of(study, trials)
    finished = sum(counts_toward_target(t) for t in trials if t.state != TrialState.RUNNING)
    running = sum(counts_toward_target(t) for t in trials if t.state == TrialState.RUNNING)
    return finished, running


def confirmation_count(
    study: optuna.Study, study_attrs: dict[str, Any] | None = None
) -> tuple[int, int]:
    """(confirmation runs stored, confirmation runs training right now): each takes a slot of
    the target as a trial does (searcher/run/race_step.py)."""
    study_attrs = study.user_attrs if study_attrs is None else study_attrs
    return confirmation_runs(study_attrs), len(live_claims(study_attrs, time.time()))


def slots_used(
    study: optuna.Study,
    trials: list[FrozenTrial] | None = None,
    study_attrs: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """(finished trainings that count toward the target, trainings under way): trials and
    confirmation runs alike."""
    trials_n, confirms = trained_count(study, trials), confirmation_count(study, study_attrs)
    return trials_n[0] + confirms[0], trials_n[1] + confirms[1]
