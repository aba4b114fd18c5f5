"""Optuna's RDB storage with every call retried through a storage outage (outage.py).

A subclass, not a wrapper: Optuna puts its trial cache in front of any RDBStorage, and that cache
is what keeps a study of thousands of trials cheap to read. Two calls need more than a retry:

- setting a trial's final state: if the connection dropped after the server committed, the retry
  finds the trial finished, which is the success it was after, not an error;
- the heartbeat: past the limit its thread stops quietly (the worker's main loop reports the
  outage and exits), and during an outage and one grace period after it no trial is judged
  stale, since every worker's heartbeat was held back alike.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import TrialState
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from searcher.study.outage import Outage, StorageOutageError
from searcher.study.trial_reader import read_trials

# Every RDBStorage method that talks to the database, the private ones Optuna's trial cache calls
# instead of the public ones included (_get_trials, _create_new_trial, _set_trial_param,
# _get_best_trial_id); set_trial_state_values, record_heartbeat and _get_stale_trial_ids are below.
RETRIED = (
    "create_new_study", "delete_study", "set_study_user_attr", "set_study_system_attr",
    "get_study_id_from_name", "get_study_name_from_id", "get_study_directions",
    "get_study_user_attrs", "get_study_system_attrs", "get_trial_user_attrs",
    "get_trial_system_attrs", "get_all_studies", "create_new_trial", "set_trial_param",
    "get_trial_param", "set_trial_intermediate_value", "set_trial_user_attr",
    "set_trial_system_attr", "get_trial_id_from_study_id_trial_number", "get_trial",
    "get_all_trials", "_get_trials", "get_best_trial", "_create_new_trial", "_set_trial_param",
    "_get_best_trial_id",
)  # fmt: skip


class ResilientStorage(RDBStorage):
    def __init__(self, url: str, outage: Outage, **kwargs: Any) -> None:
        self.outage = outage
        super().__init__(url, **kwargs)

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state["outage"] = Outage(state["outage"].limit_s, where=state["outage"].where)
        return state

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Any = None) -> bool:
        attempts = 0

        def attempt() -> bool:
            nonlocal attempts
            attempts += 1
            try:
                return RDBStorage.set_trial_state_values(self, trial_id, state, values)
            except optuna.exceptions.UpdateFinishedTrialError:
                # a retry after a dropped connection: the first attempt may have committed
                if attempts > 1 and RDBStorage.get_trial(self, trial_id).state == state:
                    return True
                raise

        return self.outage.call(attempt)

    def set_trial_user_attrs(self, trial_id: int, values: Mapping[str, Any]) -> None:
        """Several attributes of a trial in one transaction and one upsert: a trial writes
        about twenty, and a commit and two statements each were a third of a worker's
        bookkeeping with many workers on one database (docs/benchmarks/workers-load.md)."""

        def write() -> None:
            with _create_scoped_session(self.scoped_session, True) as session:
                trial = models.TrialModel.find_or_raise_by_id(trial_id, session)
                self.check_trial_is_updatable(trial_id, trial.state)
                upsert = attrs_upsert(self.engine.name, trial_id, values)
                if upsert is not None:
                    session.execute(upsert)
                    return
                for key, value in values.items():  # Optuna's own path, key by key
                    model = models.TrialUserAttributeModel
                    self._set_trial_attr_without_commit(session, model, trial_id, key, value)

        self.outage.call(write)

    def record_heartbeat(self, trial_id: int) -> None:
        # past the limit the main loop says so in one line; a thread would print a traceback
        with contextlib.suppress(StorageOutageError):
            self.outage.call(RDBStorage.record_heartbeat, self, trial_id)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        grace = self.grace_period or 2 * (self.heartbeat_interval or 0)
        if self.outage.quiet(grace):
            return []
        return self.outage.call(RDBStorage._get_stale_trial_ids, self, study_id)


_CALL = threading.local()  # what the outermost storage call of this thread does


def read_only_call() -> bool:
    """Whether this thread is inside a storage call that only reads: SQLite begins its
    transaction without the write lock (storage.py), so polling never holds up a writer."""
    return getattr(_CALL, "mode", None) == "read"


def _retrying(name: str, method: Callable[..., Any] | None = None) -> Callable[..., Any]:
    method = method or getattr(RDBStorage, name)
    mode = "read" if name.startswith(("get_", "_get_")) else "write"

    @functools.wraps(method)
    def call(self: ResilientStorage, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_CALL, "mode", None)
        if outer is None:
            _CALL.mode = mode
        try:
            return self.outage.call(method, self, *args, **kwargs)
        finally:
            if outer is None:
                _CALL.mode = None

    return call


for _name in RETRIED:
    setattr(ResilientStorage, _name, _retrying(_name))
# the read behind every `get_trials`: plain rows, not ORM objects (trial_reader.py)
ResilientStorage._get_trials = _retrying("_get_trials", read_trials)  # type: ignore[method-assign]


def attrs_upsert(dialect: str, trial_id: int, values: Mapping[str, Any]) -> Any:
    """One INSERT ... ON CONFLICT DO UPDATE for all `values`, as Optuna writes one attribute
    (storages/_rdb/storage.py), on SQLite and PostgreSQL; None elsewhere."""
    inserts = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
    if dialect not in inserts:
        return None
    model = models.TrialUserAttributeModel
    rows = [
        {"trial_id": trial_id, "key": k, "value_json": json.dumps(v)} for k, v in values.items()
    ]
    insert = inserts[dialect](model).values(rows)
    return insert.on_conflict_do_update(
        index_elements=[model.trial_id, model.key],
        set_={"value_json": insert.excluded.value_json},
    )


def set_trial_attrs(trial: optuna.Trial, values: Mapping[str, Any]) -> None:
    """`trial.set_user_attr` for each of `values`, in one transaction where the storage can."""
    backend = getattr(trial.storage, "_backend", trial.storage)  # behind Optuna's trial cache
    if not isinstance(backend, ResilientStorage) or len(values) < 2:
        for key, value in values.items():
            trial.set_user_attr(key, value)
        return
    backend.set_trial_user_attrs(trial._trial_id, values)
    trial._cached_frozen_trial.user_attrs.update(values)  # as set_user_attr keeps it
