"""Large studies for the control-plane benchmark: N varied copies of one real trained trial.

Inserting through Optuna costs milliseconds a trial (minutes for 10 000); the copies are written
with bulk inserts into Optuna's own tables instead, each with its own cost, accuracy, S and width
so that the frontier, the thinning and the tables see a realistic spread.
"""

from __future__ import annotations

import copy
import json
import math
import random
from datetime import datetime, timedelta
from typing import Any

import optuna
from optuna.storages._rdb import models
from optuna.trial import FrozenTrial, TrialState

from searcher.study import attrs


def template_trial(url: str, study: str) -> tuple[FrozenTrial, dict[str, Any]]:
    """The last trained trial of a real study, and the study's user attributes."""
    loaded = optuna.load_study(study_name=study, storage=url)
    trained = [t for t in loaded.trials if t.user_attrs.get(attrs.STATUS) == "trained"]
    if not trained:
        raise SystemExit(f"study {study} in {url} has no trained trial to copy")
    return trained[-1], dict(loaded.user_attrs)


def varied(template: FrozenTrial, i: int, rng: random.Random) -> tuple[dict[str, Any], list[float]]:
    """Copy i: cost scaled over three decades, accuracy rising with cost plus noise."""
    a = copy.deepcopy(template.user_attrs)
    scale = 10 ** rng.uniform(-1.0, 2.0)
    networks, width = rng.choice([1, 2, 4]), rng.choice([2, 4, 8, 16])
    accuracy = min(0.99, max(0.05, 0.6 + 0.1 * math.log10(scale) + rng.gauss(0, 0.04)))
    a[attrs.CANDIDATE] |= {"networks": networks, "width": width}
    a[attrs.LABEL] = f"ResNet-8 w{width} S={networks} @8px"
    a[attrs.CANDIDATE_ID] = f"copy{i:07d}"
    a[attrs.REFERENCE] = i < 4
    for key in (attrs.GFLOPS, attrs.PARAMS_M, attrs.LATENCY_MS, attrs.SLOWEST_MEMBER_MS):
        if a.get(key) is not None:
            a[key] *= scale
    a[attrs.MEMBER_GFLOPS] = [g * scale for g in a.get(attrs.MEMBER_GFLOPS, [])]
    for row in (a.get(attrs.LATENCY) or {}).get("rows", []):
        row["median_ms"] *= scale
        row["p90_ms"] *= scale
    a[attrs.MEMBER_ACCURACIES] = [accuracy - abs(rng.gauss(0, 0.02)) for _ in range(networks)]
    if rng.random() < 0.1:  # a tenth over budget: no accuracy, never trained
        a = {k: a[k] for k in (attrs.CANDIDATE, attrs.LABEL, attrs.CANDIDATE_ID, attrs.GFLOPS)}
        a[attrs.STATUS], a[attrs.OVER_BUDGET] = "infeasible", ["GFLOPs over the budget"]
        return a, [0.0, a[attrs.GFLOPS]]
    a[attrs.ACCURACY] = accuracy
    a[attrs.CURVE] = [accuracy * (k + 1) / len(a[attrs.CURVE]) for k in range(len(a[attrs.CURVE]))]
    return a, [accuracy, a[attrs.GFLOPS]]


def build(url: str, name: str, n: int, template: FrozenTrial, study_attrs: dict[str, Any]) -> None:
    """Study `name` in `url` with n trials varied from `template` (seeded: the same every run)."""
    storage = optuna.storages.RDBStorage(url)
    study = optuna.create_study(
        storage=storage, study_name=name, directions=["maximize", "minimize"]
    )
    for key, value in study_attrs.items():
        study.set_user_attr(key, value)
    study_id = storage.get_study_id_from_name(name)
    rng = random.Random(0)
    start = datetime(2026, 1, 1)
    copies = [varied(template, i, rng) for i in range(n)]
    engine = storage.engine
    with engine.begin() as connection:
        connection.execute(
            models.TrialModel.__table__.insert(),
            [
                {"number": i, "study_id": study_id, "state": TrialState.COMPLETE,
                 "datetime_start": start + timedelta(minutes=i),
                 "datetime_complete": start + timedelta(minutes=i + 1)}
                for i in range(n)
            ],
        )  # fmt: skip
        table = models.TrialModel.__table__
        ids = dict(
            connection.execute(
                table.select()
                .with_only_columns(table.c.number, table.c.trial_id)
                .where(table.c.study_id == study_id)
            ).all()
        )
        insert_children(connection, ids, copies, template)


def insert_children(
    connection: Any, ids: dict[int, int], copies: list, template: FrozenTrial
) -> None:
    finite = models.TrialValueModel.TrialValueType.FINITE
    values, user, system, params = [], [], [], []
    for number, (user_attrs, objective_values) in enumerate(copies):
        trial_id = ids[number]
        values += [{"trial_id": trial_id, "objective": k, "value": v, "value_type": finite}
                   for k, v in enumerate(objective_values)]  # fmt: skip
        user += [{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)}
                 for k, v in user_attrs.items()]  # fmt: skip
        system += [{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)}
                   for k, v in template.system_attrs.items()]  # fmt: skip
        params += [
            {"trial_id": trial_id, "param_name": k,
             "param_value": template.distributions[k].to_internal_repr(v),
             "distribution_json": optuna.distributions.distribution_to_json(template.distributions[k])}
            for k, v in template.params.items()
        ]  # fmt: skip
    connection.execute(models.TrialValueModel.__table__.insert(), values)
    connection.execute(models.TrialUserAttributeModel.__table__.insert(), user)
    connection.execute(models.TrialSystemAttributeModel.__table__.insert(), system)
    connection.execute(models.TrialParamModel.__table__.insert(), params)


def add_one(url: str, name: str, template: FrozenTrial, number: int) -> None:
    """One more finished trial, written the way a worker writes it (through Optuna)."""
    study = optuna.load_study(study_name=name, storage=url)
    user_attrs, objective_values = varied(template, number, random.Random(number))
    trial = optuna.trial.create_trial(
        params=template.params,
        distributions=template.distributions,
        values=objective_values,
        user_attrs=user_attrs,
        system_attrs=template.system_attrs,
    )
    study.add_trial(trial)
