"""While other workers hold every slot left, a worker waits instead of proposing trials that
could only end surplus (each one a trial row, a sampling and a claim: with 64 workers they
filled the machine); a queued retry still goes ahead."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from searcher.run.loop import SearchLoop, prepare
from searcher.run.objective import candidate_attrs
from searcher.run.progress import Progress
from searcher.run.slots import slots_used
from searcher.study import attrs
from space.candidate import Candidate
from space.suggest import suggest
from tests.searcher.test_recovery import tiny_config


def start_training(loop: SearchLoop) -> None:
    """Another worker's trial: the next queued or proposed candidate, claimed and training."""
    trial = loop.study.ask()
    candidate = suggest(trial, loop.prepared.space)
    for key, value in candidate_attrs(candidate).items():
        trial.set_user_attr(key, value)
    trial.set_user_attr(attrs.STATUS, "training")


def test_a_worker_waits_without_proposing_while_others_hold_every_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SearchLoop, "POLL_S", 0.0)
    config = tiny_config(tmp_path, n_trials=3, references="first")
    prepared = prepare(config)
    loop = SearchLoop(prepared, config, Progress(lambda _line: None, config.objective, None))
    assert loop.work_left() and loop.propose  # the references (S = 1, 2) are queued: go
    start_training(loop)
    start_training(loop)
    assert loop.work_left() and loop.propose and loop.free_slot  # one slot left
    start_training(loop)
    assert slots_used(loop.study) == (0, 3)
    assert loop.work_left() and not loop.propose  # every slot held: wait, propose nothing
    loop.study.enqueue_trial(loop.study.trials[2].params)  # a retry queued meanwhile
    assert loop.work_left() and loop.propose and not loop.free_slot
    waiting = [t for t in loop.study.trials if t.state == optuna.trial.TrialState.WAITING]
    assert len(waiting) == 1


def queued_ids(loop: SearchLoop) -> list[str]:
    template = loop.prepared.space.template()
    waiting = loop.study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    return [Candidate.from_params(t.system_attrs["fixed_params"], template).id for t in waiting]


def test_references_last_are_queued_once_the_slots_left_are_theirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default: the front first; the two references (S = 1, 2) hold the last two slots."""
    monkeypatch.setattr(SearchLoop, "POLL_S", 0.0)
    config = tiny_config(tmp_path, n_trials=4)
    prepared = prepare(config)
    loop = SearchLoop(prepared, config, Progress(lambda _line: None, config.objective, None))
    references = {c.id for c in prepared.space.reference_candidates()}
    assert loop.work_left() and loop.propose and loop.free_slot
    assert not references & set(queued_ids(loop))  # only the anchor is queued
    start_training(loop)  # the anchor: three slots left, two of them the references'
    assert loop.work_left() and loop.free_slot and not references & set(queued_ids(loop))
    start_training(loop)  # a proposal: the two slots left are the references'
    assert loop.work_left() and loop.propose and not loop.free_slot  # no racing in them
    assert sorted(queued_ids(loop)) == sorted(references)
    assert loop.work_left() and len(queued_ids(loop)) == 2  # queued once, not again
