"""The study's sampler reads the study once per proposal and proposes what TPE proposes."""

from __future__ import annotations

import warnings
from collections import Counter

import optuna

from searcher.study.sampler import make_sampler

FAMILIES = {"a": [1, 2, 3], "b": [4, 5, 6], "c": [7, 8]}


def objective(trial: optuna.Trial) -> tuple[float, float]:
    family = trial.suggest_categorical("family", list(FAMILIES))
    depth = trial.suggest_categorical(f"{family}.depth", FAMILIES[family])
    width = trial.suggest_categorical(f"{family}.width", FAMILIES[family])
    networks = trial.suggest_categorical("networks", [1, 2, 4])
    size = trial.suggest_categorical("image_size", [8, 16])
    return depth * width / (networks + 1) + size / 100, depth + width


def tpe(seed: int) -> optuna.samplers.TPESampler:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                          n_startup_trials=8)  # fmt: skip


def proposals(sampler: optuna.samplers.BaseSampler, n: int) -> list[dict]:
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=n)
    return [t.params for t in study.trials]


def test_it_proposes_what_tpe_proposes() -> None:
    assert proposals(make_sampler(3), 40) == proposals(tpe(3), 40)


def reads_of_one_proposal(sampler: optuna.samplers.BaseSampler) -> Counter:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, directions=["maximize", "minimize"],
                                sampler=sampler)  # fmt: skip
    study.optimize(objective, n_trials=20)
    reads: Counter = Counter()
    read_all = storage.get_all_trials

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        queued_only = kwargs.get("states") == (optuna.trial.TrialState.WAITING,)
        reads["queue" if queued_only else "trials"] += 1
        return read_all(*args, **kwargs)

    storage.get_all_trials = counted  # type: ignore[method-assign]
    study.optimize(objective, n_trials=1)
    return reads


def test_one_proposal_reads_the_trials_once() -> None:
    assert reads_of_one_proposal(tpe(0))["trials"] >= 3  # a read per group of parameters
    assert reads_of_one_proposal(make_sampler(0))["trials"] == 1
