"""The Optuna study: two objectives (maximise accuracy, minimise cost), one space per study.

A study remembers the fingerprint of the space it was created with and refuses to be resumed
with another, so results from different spaces are never mixed. New studies are seeded with
its cheapest candidate (searcher/study/anchor.py) and, when its references come first, with the
space's reference points (each reference network at every S: the paper's "divide or not"
comparison). By default they come last: `searcher run` trains them in the run's last slots
(searcher/run/loop.py), because the front is what a run is for and the references, the widest
networks of the space, are rarely on it (search-efficiency replays: docs/benchmarks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import optuna

from searcher.study import attrs
from searcher.study.anchor import anchors
from searcher.study.sampler import SamplerKind, make_sampler
from searcher.study.storage import StorageError
from space.errors import ConfigError

# When a run trains the space's references: before any proposal, or in the run's last slots.
ReferenceOrder = Literal["first", "last"]

if TYPE_CHECKING:  # a type only: reading a study (frontier, ui) must not load torch
    from space.search_space import SearchSpace

Objective = Literal["gflops", "latency"]
OBJECTIVE_ATTRS: dict[str, str] = {"gflops": attrs.GFLOPS, "latency": attrs.LATENCY_MS}
DIRECTIONS = ("maximize", "minimize")
# Optuna's constraint convention (trial.set_constraint): <= 0 feasible. Infeasible trials are
# told with this > 0 (the relative excess over the budget), so the sampler learns from them.
BUDGET_CONSTRAINT = "budget"


def open_study(
    storage: optuna.storages.BaseStorage,
    name: str,
    space: SearchSpace,
    data: str,
    objective: Objective,
    seed: int | None = None,
    sampler: SamplerKind = "front",
    references: ReferenceOrder = "last",
) -> optuna.Study:
    """The study, created or resumed. The front sampler needs costs known before training, so a
    latency objective (measured after) searches with TPE. A new study is seeded with its
    references (`first` only) and its anchor."""
    kind: SamplerKind = sampler if objective == "gflops" else "tpe"
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        directions=list(DIRECTIONS),
        sampler=make_sampler(seed, space, kind),
        load_if_exists=True,
    )
    expected = {
        attrs.SPACE_FINGERPRINT: space.fingerprint,
        attrs.DATA: data,
        attrs.OBJECTIVE: objective,
    }
    stored = study.user_attrs
    if attrs.SPACE_FINGERPRINT not in stored:
        for key, value in expected.items():
            study.set_user_attr(key, value)
        study.set_user_attr(attrs.SPACE, space.to_dict())
        study.set_user_attr(attrs.SPACE_NAME, space.name)
    for key, value in expected.items():
        if stored.get(key, value) != value:
            raise ConfigError(
                f"study '{name}' was created with {key} {stored[key]!r}, not {value!r}; "
                "use another --study name to search this one"
            )
    if not stored.get(attrs.SEEDED):
        first = space.reference_candidates() if references == "first" else []
        for seeded in [*first, *anchors(space)]:
            study.enqueue_trial(space.trial_params(seeded), skip_if_exists=True)
        study.set_user_attr(attrs.SEEDED, True)
    return study


def load_existing_study(storage: optuna.storages.BaseStorage, name: str | None) -> optuna.Study:
    """The named study, or the only one in the storage; errors list what exists."""
    names = optuna.study.get_all_study_names(storage)
    if name is None:
        if len(names) != 1:
            listing = ", ".join(names) or "none"
            raise ConfigError(f"name a study with --study; the storage holds: {listing}")
        name = names[0]
    if name not in names:
        raise StorageError(
            f"no study '{name}' in the storage; it holds: {', '.join(names) or 'none'}"
        )
    return optuna.load_study(study_name=name, storage=storage)
