"""Reading trials as plain rows gives what Optuna's ORM read gives, field by field."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from searcher.study import trial_reader
from searcher.study.resilient import ResilientStorage
from searcher.study.storage import open_storage
from searcher.study.trial_reader import read_trials
from tests.searcher.test_workers import postgres_study  # noqa: F401  (a fixture)

FIELDS = ("number", "state", "values", "datetime_start", "datetime_complete", "params",
          "distributions", "user_attrs", "system_attrs", "_trial_id")  # fmt: skip


def filled_study(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    """Every kind of field: params of each distribution, infinite and NaN values, intermediate
    values, user and system attributes, and trials in each state."""
    study = optuna.create_study(storage=storage, study_name=name,
                                directions=["maximize", "minimize"])  # fmt: skip
    for number in range(7):
        trial = study.ask()
        trial.suggest_categorical("family", ["resnet", "wide_resnet", None])
        trial.suggest_int("depth", 8, 32, step=6)
        trial.suggest_float("lr", 1e-4, 1.0, log=True)
        trial.set_user_attr("curve", [0.5, 0.25 * number])
        trial.set_user_attr("status", "trained")
        trial.storage.set_trial_system_attr(trial._trial_id, "tpe:relative_params:0", "{}")
        for step, value in ((1, 0.1 * number), (2, math.inf if number == 3 else float("nan"))):
            trial.storage.set_trial_intermediate_value(trial._trial_id, step, value)
        if number < 3:
            study.tell(trial, [0.9 - number / 10, math.inf if number == 1 else 2.0 + number])
        elif number < 5:
            study.tell(trial, state=TrialState.PRUNED)
        elif number == 5:
            study.tell(trial, state=TrialState.FAIL)
    study.enqueue_trial({"family": "resnet", "depth": 14})  # a waiting trial
    return study


def same(ours: list[FrozenTrial], theirs: list[FrozenTrial]) -> None:
    assert [t.number for t in ours] == [t.number for t in theirs]
    for mine, optuna_s in zip(ours, theirs, strict=True):
        for field in FIELDS:
            assert getattr(mine, field) == getattr(optuna_s, field), (mine.number, field)
        assert mine.intermediate_values.keys() == optuna_s.intermediate_values.keys()
        for step, value in optuna_s.intermediate_values.items():
            assert value == mine.intermediate_values[step] or (
                math.isnan(value) and math.isnan(mine.intermediate_values[step])
            )


def compare_on(url: str, name: str) -> None:
    storage = open_storage(url)
    try:
        study = filled_study(storage, name)
        study_id = study._study_id
        ids = [t._trial_id for t in study.trials]  # a shared database numbers them on
        cached = ({ids[1], ids[2]}, ids[3])  # Optuna's trial cache: unfinished ids, newer ones
        for states, included, above in [
            (None, set(), -1),
            ((TrialState.RUNNING, TrialState.WAITING), set(), -1),
            (None, *cached),
            (None, set(), ids[4]),
        ]:
            same(read_trials(storage, study_id, states, included, above),
                 RDBStorage._get_trials(storage, study_id, states, included, above))  # fmt: skip
        assert len(read_trials(storage, study_id, None, set(), -1)) == 8
        chunk = trial_reader.CHUNK
        trial_reader.CHUNK = 1  # many unfinished trials: filtered here, not in an IN list
        try:
            same(read_trials(storage, study_id, None, *cached),
                 RDBStorage._get_trials(storage, study_id, None, *cached))  # fmt: skip
        finally:
            trial_reader.CHUNK = chunk
        with pytest.raises(KeyError):
            read_trials(storage, 10**9, None, set(), -1)  # no such study
    finally:
        storage.engine.dispose()


def test_it_reads_what_optuna_reads_on_sqlite(tmp_path: Path) -> None:
    compare_on(f"sqlite:///{tmp_path / 'study.db'}", "reader")


def test_it_reads_what_optuna_reads_on_postgres(postgres_study) -> None:  # noqa: F811
    compare_on(*postgres_study)


def test_the_study_s_reads_go_through_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    try:
        filled_study(storage, "reads")

        def orm_read(*_args: object) -> None:
            raise AssertionError("read through the ORM")

        monkeypatch.setattr(RDBStorage, "_build_frozen_trial_from_trial_model", orm_read)
        fresh = optuna.load_study(study_name="reads", storage=storage)
        assert isinstance(storage, ResilientStorage)
        assert len(fresh.get_trials(deepcopy=False)) == 8
    finally:
        storage.engine.dispose()
