"""A study's trials read with plain SQL, all at once or incrementally: `searcher frontier` and
the dashboard.

Optuna's `get_trials` builds an ORM object for every row of every trial table (parameters,
values, system attributes, each user attribute) and then a `FrozenTrial`: close to a gigabyte
and a minute for 10 000 trials. A reader of results needs only each trial's number, state and
user attributes, streamed from two tables into `TrialRecord`s. Read incrementally as Optuna's
own cache does it, a later read asks only for trials that are new (a higher trial id) or were
unfinished at the last read: a finished trial never changes. Workers keep Optuna's API.
"""

from __future__ import annotations

import json
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.storages._rdb import models  # Optuna's schema; stable across its migrations

from searcher.study import attrs
from searcher.study.records import TrialRecord, status_from
from searcher.study.storage import StorageError

STREAM_ROWS = 5000  # rows fetched at a time: memory stays flat however large the study
TRIALS = models.TrialModel.__table__
USER_ATTRS = models.TrialUserAttributeModel.__table__


class TrialSource:
    """One study of an RDB storage; `read()` returns the trials that are new or may have
    changed since the previous `read()` (all of them the first time)."""

    def __init__(self, storage: optuna.storages.BaseStorage, study: str) -> None:
        backend = getattr(storage, "_backend", storage)  # also under Optuna's cache
        if not isinstance(backend, optuna.storages.RDBStorage):
            raise StorageError(f"{type(backend).__name__} is not an SQL storage")
        self._engine = backend.engine
        self._study_id = backend.get_study_id_from_name(study)
        self._last_finished = -1  # every trial id up to this one is finished and read
        self._unfinished: set[int] = set()
        self.trials_read = 0  # trials fetched from the storage so far (what tests count)

    def read(self) -> list[TrialRecord]:
        """New and possibly changed trials, in number order."""
        where = TRIALS.c.study_id == self._study_id
        if self._last_finished >= 0 or self._unfinished:
            where &= sa.or_(
                TRIALS.c.trial_id > self._last_finished,
                TRIALS.c.trial_id.in_(sorted(self._unfinished)),
            )
        with self._engine.connect() as connection:
            heads = connection.execute(
                sa.select(TRIALS.c.trial_id, TRIALS.c.number, TRIALS.c.state).where(where)
            ).all()
            values: dict[int, dict[str, Any]] = {trial_id: {} for trial_id, _, _ in heads}
            if heads:
                rows = connection.execution_options(yield_per=STREAM_ROWS).execute(
                    sa.select(USER_ATTRS.c.trial_id, USER_ATTRS.c.key, USER_ATTRS.c.value_json)
                    .join(TRIALS, TRIALS.c.trial_id == USER_ATTRS.c.trial_id)
                    .where(where)
                )
                for trial_id, key, value in rows:
                    values[trial_id][key] = json.loads(value)
        self.trials_read += len(heads)
        self._remember(heads)
        return [
            TrialRecord(number, state.name, status_from(state, values[i].get(attrs.STATUS)), values[i])
            for i, number, state in sorted(heads, key=lambda head: head[1])
        ]  # fmt: skip

    def _remember(self, heads: list[Any]) -> None:
        """Unfinished trials are asked for again by id; finished ones never again."""
        for trial_id, _, state in heads:
            if state.is_finished():
                self._unfinished.discard(trial_id)
                self._last_finished = max(self._last_finished, trial_id)
            else:
                self._unfinished.add(trial_id)


def read_snapshot(storage: optuna.storages.BaseStorage, study: str) -> list[TrialRecord]:
    """Every trial of the study in number order, read once."""
    return TrialSource(storage, study).read()
