"""Reading a study's trials in six plain queries, without building ORM objects.

Optuna's `RDBStorage._get_trials` loads every trial through SQLAlchemy's ORM: an object per row
of six tables, an identity map, a relationship loader per table. With 64 workers on one study a
worker reads every running trial about six times per trial it trains, and those reads were 63 %
of its CPU between trials on a 2-core machine (docs/benchmarks/workers-load.md). The same rows
read as plain tuples and turned into `FrozenTrial`s directly cost a fraction of that; the result
is the same (tests/searcher/test_trial_reader.py compares it with Optuna's on every field).
"""

from __future__ import annotations

import datetime
import functools
import json
from collections import defaultdict
from collections.abc import Container, Iterable, Iterator
from typing import Any

import sqlalchemy
from optuna import distributions
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import FrozenTrial, TrialState

CHUNK = 500  # trial ids per IN list (SQLAlchemy's selectinload uses the same batch size)


@functools.lru_cache(maxsize=4096)
def distribution(text: str) -> distributions.BaseDistribution:
    """Distributions are few and immutable: parse each JSON text once."""
    return distributions.json_to_distribution(text)


def local_time(utc: datetime.datetime | None) -> datetime.datetime | None:
    """Optuna stores naive UTC and hands out naive local time (models.TrialModel)."""
    if utc is None:
        return None
    return utc.replace(tzinfo=datetime.timezone.utc).astimezone().replace(tzinfo=None)


def read_trials(
    storage: RDBStorage,
    study_id: int,
    states: Container[TrialState] | None,
    included_trial_ids: set[int],
    trial_id_greater_than: int,
) -> list[FrozenTrial]:
    """What `RDBStorage._get_trials` returns for the same arguments."""
    trial = models.TrialModel
    included = {i for i in included_trial_ids if i <= trial_id_greater_than}
    with _create_scoped_session(storage.scoped_session) as session:
        models.StudyModel.find_or_raise_by_id(study_id, session)
        query = sqlalchemy.select(
            trial.trial_id, trial.number, trial.state,
            trial._datetime_start_utc, trial._datetime_complete_utc,
        ).where(trial.study_id == study_id)  # fmt: skip
        if states is not None:
            assert isinstance(states, Iterable)
            query = query.where(trial.state.in_(list(states)))
        query = by_id(query, included, trial_id_greater_than)
        rows = session.execute(query.order_by(trial.trial_id)).all()
        if len(included) > CHUNK:
            rows = [r for r in rows if r[0] in included or r[0] > trial_id_greater_than]
        parts = children(session, [row[0] for row in rows])
    return [frozen(row, parts) for row in rows]


def by_id(query: Any, included: set[int], above: int) -> Any:
    """Optuna's trial cache asks for its unfinished trials (`included`) and every newer one."""
    column = models.TrialModel.trial_id
    if len(included) > CHUNK:  # no IN list past a database's variable limit: filtered after
        return query.where(column >= min(included))
    if included:
        return query.where(sqlalchemy.or_(column.in_(included), column > above))
    return query.where(column > above) if above > -1 else query


def child_queries() -> dict[str, Any]:
    """Each child table's rows for a list of trial ids (`ids`), in the order Optuna stores them;
    built once, so SQLAlchemy neither builds nor keys them again on every read."""
    tables = {
        "params": (models.TrialParamModel, ("param_name", "param_value", "distribution_json"),
                   "param_id"),
        "values": (models.TrialValueModel, ("objective", "value", "value_type"), "trial_value_id"),
        "user": (models.TrialUserAttributeModel, ("key", "value_json"), "trial_user_attribute_id"),
        "system": (models.TrialSystemAttributeModel, ("key", "value_json"),
                   "trial_system_attribute_id"),
        "intermediate": (models.TrialIntermediateValueModel,
                         ("step", "intermediate_value", "intermediate_value_type"),
                         "trial_intermediate_value_id"),
    }  # fmt: skip
    ids = sqlalchemy.bindparam("ids", expanding=True)
    return {
        name: sqlalchemy.select(model.trial_id, *(getattr(model, c) for c in columns))
        .where(model.trial_id.in_(ids))
        .order_by(getattr(model, order))
        for name, (model, columns, order) in tables.items()
    }


CHILDREN = child_queries()


def children(session: Any, ids: list[int]) -> dict[str, dict[int, list[tuple]]]:
    """Each child table's rows by trial id."""
    parts: dict[str, dict[int, list[tuple]]] = {name: defaultdict(list) for name in CHILDREN}
    for chunk in chunks(ids):
        for name, query in CHILDREN.items():
            for row in session.execute(query, {"ids": chunk}):
                parts[name][row[0]].append(tuple(row[1:]))
    return parts


def chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def frozen(row: Any, parts: dict[str, dict[int, list[tuple]]]) -> FrozenTrial:
    """As `RDBStorage._build_frozen_trial_from_trial_model`, from plain rows."""
    trial_id, number, state, start, complete = row
    stored = parts["values"].get(trial_id, [])
    values: list[float] | None = None
    if stored:
        values = [0.0] * len(stored)
        for objective, value, value_type in stored:
            values[objective] = models.TrialValueModel.stored_repr_to_value(value, value_type)
    params = parts["params"].get(trial_id, [])
    return FrozenTrial(
        number=number,
        state=state,
        value=None,
        values=values,
        datetime_start=local_time(start),
        datetime_complete=local_time(complete),
        params={n: distribution(d).to_external_repr(v) for n, v, d in params},
        distributions={n: distribution(d) for n, _, d in params},
        user_attrs={k: json.loads(v) for k, v in parts["user"].get(trial_id, [])},
        system_attrs={k: json.loads(v) for k, v in parts["system"].get(trial_id, [])},
        intermediate_values={
            step: models.TrialIntermediateValueModel.stored_repr_to_intermediate_value(v, kind)
            for step, v, kind in parts["intermediate"].get(trial_id, [])
        },
        trial_id=trial_id,
    )
