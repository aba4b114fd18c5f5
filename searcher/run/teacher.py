"""The wide teacher of a `wide_then_narrow` candidate (trainers.train.imitation): reused or trained once.

Where it comes from, first that works:
1. a trained trial of exactly the teacher candidate (`trainers.train.imitation.teacher_candidate`: the
   undivided network, or the S=1 network widened) whose checkpoint loads;
2. the teacher checkpoint an earlier wide_then_narrow trial saved, `<runs>/<study>/teacher-<id>/`;
3. otherwise this trial trains it with the scratch recipe and saves it there.
A checkpoint that is missing or does not load costs one warning line and a retraining, never
the trial.

Two workers never train the same teacher at once. The claim extends `searcher/run/claim.py`'s
order by trial number rather than adding a second lock: every wide_then_narrow trial writes its
`teacher_id` when it is proposed (before its own claim), and after its claim (when all lower
trials have decided) the teacher is trained by the lowest-numbered running `training` trial of
that teacher that has no teacher yet; the others poll until its checkpoint appears, or until
they become the lowest (its owner died or failed: stale trials are failed as in claim.py).
A study-level marker would need a compare-and-set Optuna's storages do not offer; a dedicated
teacher trial would count toward the trial target and show up on the front.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState
from torch import nn

from searcher.run.claim import fail_stale_trials
from searcher.study import attrs
from space.candidate import Candidate
from trainers.data import DataSource
from trainers.train.checkpoint import load_checkpoint, save_checkpoint
from trainers.train.cotrain import TrainingCallback, TrainResult, train
from trainers.train.imitation import teacher_candidate, train_wide_then_narrow

if TYPE_CHECKING:
    from searcher.run.config import SearchConfig


@dataclass(frozen=True)
class Teacher:
    module: nn.Module
    candidate: Candidate
    checkpoint: str
    trained: bool  # by this trial
    seconds: float  # its training time, wherever it was trained (0 when unknown)

    def to_attrs(self) -> dict[str, Any]:
        return {
            attrs.TEACHER: {
                "candidate_id": self.candidate.id,
                "label": self.candidate.label,
                "checkpoint": self.checkpoint,
            },
            attrs.TEACHER_TRAINED: self.trained,
            attrs.TEACHER_SECONDS: self.seconds,
        }


def teacher_path(config: SearchConfig, teacher: Candidate) -> Path:
    return config.runs_dir.resolve() / config.study_name / f"teacher-{teacher.id}" / "ensemble.pt"


def stored_checkpoints(study: optuna.Study, teacher_id: str) -> list[tuple[str, float]]:
    """(checkpoint, training seconds) of trained trials of the teacher, and of teachers that
    wide_then_narrow trials trained, newest first."""
    found = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        if a.get(attrs.STATUS) == "trained" and a.get(attrs.CANDIDATE_ID) == teacher_id:
            found.append((a.get(attrs.CHECKPOINT), a.get(attrs.TRAIN_SECONDS) or 0.0))
        used = a.get(attrs.TEACHER) or {}
        if used.get("candidate_id") == teacher_id and a.get(attrs.TEACHER_TRAINED):
            found.append((used.get("checkpoint"), a.get(attrs.TEACHER_SECONDS) or 0.0))
    return [(path, seconds) for path, seconds in reversed(found) if path]


def owner(study: optuna.Study, teacher_id: str) -> int | None:
    """The trial that trains the teacher now: the lowest running one still waiting for it."""
    waiting = [
        t.number
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if t.user_attrs.get(attrs.TEACHER_ID) == teacher_id
        and t.user_attrs.get(attrs.STATUS) == "training"
        and attrs.TEACHER not in t.user_attrs
    ]
    return min(waiting, default=None)


class TeacherSource:
    """Finds or trains the teacher of one trial's candidate (see the module docstring)."""

    def __init__(
        self,
        trial: optuna.Trial,
        data: DataSource,
        config: SearchConfig,
        warn: Callable[[str], None],
        poll: Callable[[], None] = lambda: time.sleep(1.0),
    ) -> None:
        self.trial, self.data, self.config, self.warn, self.poll = trial, data, config, warn, poll
        self.warned: set[str] = set()

    def __call__(self, candidate: Candidate) -> Teacher:
        teacher = teacher_candidate(candidate)
        study = self.trial.study
        while True:
            found = self.load_stored(study, teacher)
            if found is None and owner(study, teacher.id) in (None, self.trial.number):
                found = self.train(teacher)
            if found is not None:
                for key, value in found.to_attrs().items():  # others stop waiting on this trial
                    self.trial.set_user_attr(key, value)
                return found
            self.poll()
            fail_stale_trials(study)

    def load_stored(self, study: optuna.Study, teacher: Candidate) -> Teacher | None:
        stored: dict[str, float] = {}  # path: seconds, newest first
        for checkpoint, seconds in stored_checkpoints(study, teacher.id):
            stored.setdefault(checkpoint, seconds)
        path = str(teacher_path(self.config, teacher))
        own = [path] if Path(path).is_file() else []  # a retrained teacher replaces a bad one
        for checkpoint in [*own, *(p for p in stored if p != path)]:
            seconds = stored.get(checkpoint, 0.0)
            try:
                _, ensemble = load_checkpoint(checkpoint)  # on the CPU; imitation moves it
            except Exception as exc:  # missing, truncated, another format: train it again
                if checkpoint not in self.warned:
                    self.warned.add(checkpoint)
                    reason = " ".join(str(exc).split())[:200]
                    self.warn(f"teacher checkpoint {checkpoint} unreadable ({reason}); retraining")
                continue
            return Teacher(ensemble.members[0], teacher, checkpoint, False, float(seconds))
        return None

    def train(self, teacher: Candidate) -> Teacher:
        config = self.config
        result = train(teacher, self.data, seed=config.seed, device=config.device)
        path = save_checkpoint(teacher_path(config, teacher), teacher, result.ensemble)
        module = result.ensemble.members[0].eval()
        return Teacher(module, teacher, str(path), True, result.train_seconds)


TeacherFinder = Callable[[Candidate], Teacher]


def train_with_teacher(
    candidate: Candidate,
    data: DataSource,
    config: SearchConfig,
    find: TeacherFinder,
    callbacks: list[TrainingCallback],
    observers: list[TrainingCallback],
) -> tuple[TrainResult, dict[str, Any]]:
    """Stages 1-3 of a wide_then_narrow trial: its result and the teacher / imitation attrs."""
    teacher = find(candidate)
    result, imitation = train_wide_then_narrow(
        candidate, data, teacher.module, seed=config.seed, device=config.device,
        callbacks=callbacks, observers=observers,
    )  # fmt: skip
    return result, teacher.to_attrs() | {attrs.IMITATION_LOSSES: imitation.stage_losses}
