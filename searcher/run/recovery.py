"""Lost trials are trained again: a stored study is the record of the search's compute.

A trial is lost when its worker was killed (Optuna's heartbeat marks it failed), or when Ctrl-C
or SIGTERM interrupted it. Neither is the candidate's fault, so its candidate is enqueued again
until it is trained. A trial that failed with an error counts toward a per-candidate limit
(`MAX_ERRORS`): a candidate that breaks the trainer three times is given up, with its errors
stored on its trials. The space's references, once they are due (from the start, or in the run's
last slots: searcher/run/loop.py), are also enqueued whenever none of their trials is done,
running or waiting, so they train before new proposals and a study does not stop at its target
while one is untrained.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from searcher.study import attrs
from searcher.study.records import trials_of
from space.candidate import Candidate

MAX_ERRORS = 3
INTERRUPTED = "interrupted"
DONE = ("trained", "pruned", "infeasible")  # a finished trial that settles its candidate
FIXED_PARAMS = "fixed_params"  # the system attribute Optuna's enqueue_trial stores params in


def failure_kind(trial: FrozenTrial) -> str | None:
    """`killed` (no heartbeat: the status still says it was running), `interrupted` (Ctrl-C,
    SIGTERM) or `error`, for a failed trial; None otherwise."""
    if trial.state != TrialState.FAIL:
        return None
    status, error = trial.user_attrs.get(attrs.STATUS), trial.user_attrs.get(attrs.ERROR)
    if status != "failed":
        return "killed"
    return INTERRUPTED if error == INTERRUPTED else "error"


@dataclass
class CandidateHistory:
    params: dict[str, Any]
    label: str
    done: bool = False
    running: bool = False  # a trial of it is proposing, claiming or training right now
    waiting: bool = False  # a trial of it is queued
    errors: list[int] = field(default_factory=list)  # trial numbers that failed with an error
    lost: list[int] = field(default_factory=list)  # killed or interrupted trial numbers

    @property
    def given_up(self) -> bool:
        return len(self.errors) >= MAX_ERRORS


ParamsOf = Callable[[Candidate], dict[str, Any]]


def histories(
    trials: Iterable[FrozenTrial],
    references: Iterable[Candidate] = (),
    params_of: ParamsOf = Candidate.to_params,
) -> dict[str, CandidateHistory]:
    """Per candidate id, what its trials say (references included, tried or not); waiting
    trials are matched by their params."""
    result: dict[str, CandidateHistory] = {}
    waiting: list[dict[str, Any]] = []
    popped: list[dict[str, Any]] = []  # taken from the queue a moment ago, nothing written yet
    unnamed: list[FrozenTrial] = []  # taken from the queue, candidate not yet written
    for trial in trials:
        if trial.state == TrialState.WAITING:
            waiting.append(trial.system_attrs.get(FIXED_PARAMS, {}))
            continue
        cid = trial.user_attrs.get(attrs.CANDIDATE_ID)
        if cid is None:
            if trial.state == TrialState.RUNNING and FIXED_PARAMS in trial.system_attrs:
                popped.append(trial.system_attrs[FIXED_PARAMS])
            continue
        if attrs.CANDIDATE not in trial.user_attrs:
            unnamed.append(trial)
            continue
        if cid not in result:
            candidate = Candidate.from_dict(trial.user_attrs[attrs.CANDIDATE])
            result[cid] = CandidateHistory(params_of(candidate), candidate.label)
        record_trial(result[cid], trial)
    for reference in references:
        if reference.id not in result:  # never tried: queued, or lost from an older study
            result[reference.id] = CandidateHistory(params_of(reference), reference.label)
    for trial in unnamed:
        if trial.user_attrs[attrs.CANDIDATE_ID] in result:
            record_trial(result[trial.user_attrs[attrs.CANDIDATE_ID]], trial)
    for history in result.values():
        history.waiting = history.params in waiting
        history.running = history.running or history.params in popped
    return result


def record_trial(history: CandidateHistory, trial: FrozenTrial) -> None:
    status, kind = trial.user_attrs.get(attrs.STATUS), failure_kind(trial)
    if kind == "error":
        history.errors.append(trial.number)
    elif kind is not None:
        history.lost.append(trial.number)
    elif trial.state == TrialState.RUNNING and status not in ("duplicate", "surplus"):
        history.running = True
    elif trial.state.is_finished() and status in DONE:
        history.done = True


def pending_references(
    study: optuna.Study,
    references: Iterable[Candidate],
    params_of: ParamsOf = Candidate.to_params,
    trials: list[FrozenTrial] | None = None,
) -> tuple[list[Candidate], list[Candidate]]:
    """(references that need a worker: not done, not running, not given up; references that
    another worker is training right now)."""
    references = list(references)
    known = histories(trials_of(study, trials), references, params_of)
    pending, running = [], []
    for reference in references:
        history = known[reference.id]
        if history.done or history.given_up:
            continue
        (running if history.running else pending).append(reference)
    return pending, running


def slot_holders(
    study: optuna.Study,
    references: Iterable[Candidate],
    params_of: ParamsOf = Candidate.to_params,
    trials: list[FrozenTrial] | None = None,
) -> tuple[frozenset[str], frozenset[str]]:
    """(references that will still train, lost candidates not yet trained again), from one read
    of the study: neither done nor given up, each holds a slot of the target
    (searcher/run/claim.py). A lost candidate holds one as an untrained reference does, so the
    trials other workers proposed while the lost one was not yet judged stale cannot take the
    slot its retry needs."""
    references = list(references)
    known = histories(trials_of(study, trials), references, params_of)

    def unsettled(history: CandidateHistory) -> bool:
        return not history.done and not history.given_up

    pending = frozenset(r.id for r in references if unsettled(known[r.id]))
    lost = frozenset(cid for cid, h in known.items() if h.lost and unsettled(h))
    return pending, lost


def requeue_lost(
    study: optuna.Study,
    references: Sequence[Candidate],
    params_of: ParamsOf = Candidate.to_params,
    trials: list[FrozenTrial] | None = None,
) -> list[str]:
    """Enqueues every lost candidate and every untrained reference (pass the due ones) that has no
    trial running or waiting; returns their labels. References go first, so they train before
    new proposals."""
    reference_ids = [r.id for r in references]
    known = histories(trials_of(study, trials), references, params_of)
    labels = []
    for cid in sorted(known, key=lambda cid: cid not in reference_ids):
        history = known[cid]
        if history.done or history.running or history.waiting or history.given_up:
            continue
        if not history.lost and not history.errors and cid not in reference_ids:
            continue
        failed = history.lost + history.errors
        extra = {attrs.RETRY_OF: max(failed)} if failed else {}
        study.enqueue_trial(history.params, user_attrs={attrs.CANDIDATE_ID: cid} | extra)
        labels.append(history.label)
    return labels


def failed_meanwhile(exc: BaseException) -> bool:
    """Optuna refusing to store a trial another worker already failed: its heartbeats came
    late (a starved machine, a long database outage), so it was judged dead and its candidate
    is queued again. The worker goes on; the candidate trains again elsewhere or here."""
    return isinstance(exc, ValueError) and str(exc).startswith("Cannot tell a FAIL trial")


def run_target(study_attrs: dict[str, Any], n_trials: int, done: int) -> int:
    """The trained trials `searcher run --n-trials N` aims the study at: N more than it holds;
    but the same command again, while the run that stored the target has not reached it (its
    leader was killed, or interrupted), resumes that run instead of adding N more."""
    stored = study_attrs.get(attrs.TARGET)
    if stored is not None and done < stored and study_attrs.get(attrs.RUN_TRIALS) == n_trials:
        return int(stored)
    return n_trials + done
