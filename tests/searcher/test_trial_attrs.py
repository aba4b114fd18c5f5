"""A trial's attributes written together: one transaction on a database, as before elsewhere."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import sqlalchemy

from searcher.study.resilient import set_trial_attrs
from searcher.study.storage import open_storage
from tests.searcher.test_workers import postgres_study  # noqa: F401  (a fixture)

VALUES = {"status": "trained", "accuracy": 0.97, "curve": [0.5, 0.9], "device": "cpu"}


def written_in_one_transaction(url: str, name: str) -> None:
    storage = open_storage(url)
    try:
        study = optuna.create_study(storage=storage, study_name=name,
                                    directions=["maximize", "minimize"])  # fmt: skip
        trial = study.ask()
        trial.set_user_attr("status", "claiming")  # an update among the inserts
        commits: list[int] = []
        sqlalchemy.event.listen(storage.engine, "commit", lambda _connection: commits.append(1))
        set_trial_attrs(trial, VALUES)
        assert len(commits) == 1
        assert trial.user_attrs == VALUES  # the trial's own view, as set_user_attr keeps it
        fresh = optuna.load_study(study_name=name, storage=storage).trials[0]
        assert fresh.user_attrs == VALUES
        study.tell(trial, [0.5, 1.0])
        with pytest.raises(RuntimeError, match="finished"):  # as Optuna refuses one attribute
            set_trial_attrs(trial, VALUES)
    finally:
        storage.engine.dispose()


def test_attributes_are_written_in_one_transaction_on_sqlite(tmp_path: Path) -> None:
    written_in_one_transaction(f"sqlite:///{tmp_path / 'study.db'}", "attrs")


def test_attributes_are_written_in_one_transaction_on_postgres(postgres_study) -> None:  # noqa: F811
    written_in_one_transaction(*postgres_study)


def test_other_storages_get_one_write_per_attribute() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    trial = study.ask()
    set_trial_attrs(trial, VALUES)
    assert study.trials[0].user_attrs == VALUES == trial.user_attrs
