"""The study's samplers: the front sampler by default, or Optuna's TPE reading the study once
per trial instead of once per group.

With `constant_liar` (Optuna 5's default) TPE reads every trial of the study, running ones
included, for each group of parameters it samples and once more for the groups themselves: five
reads of every running trial for one proposal of a four-family space. With 64 workers on one
database those reads were the largest share of each worker's CPU between trials
(docs/benchmarks/workers-load.md). The trials are read once when the trial's sampling starts
and every later call of the same trial sees that read: what TPE would have seen, milliseconds
apart, so the proposals are the same (tests/searcher/test_sampler.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Container
from typing import TYPE_CHECKING, Any, Literal

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from space.search_space import SearchSpace


class StudyView:
    """A study whose trials are one read of the storage; everything else is the study's."""

    def __init__(self, study: optuna.Study, trials: list[FrozenTrial]) -> None:
        self._study, self._trials = study, trials

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        trials = [t for t in self._trials if states is None or t.state in states]
        return [t.__deepcopy__({}) for t in trials] if deepcopy else trials

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return self._get_trials(deepcopy, states)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self._get_trials()


class SnapshotTPESampler(optuna.samplers.TPESampler):
    """TPE whose reads of the study during one trial's sampling are one read."""

    _snapshot: tuple[int, StudyView] | None = None

    def view(self, study: optuna.Study, trial: FrozenTrial) -> optuna.Study:
        if self._snapshot is None or self._snapshot[0] != trial._trial_id:
            self._snapshot = (trial._trial_id, StudyView(study, study.get_trials(deepcopy=False)))
        return self._snapshot[1]  # type: ignore[return-value]  # a Study in all TPE reads

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return super().infer_relative_search_space(self.view(study, trial), trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return super().sample_relative(self.view(study, trial), trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        view = self.view(study, trial)
        return super().sample_independent(view, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, *args: Any) -> None:
        self._snapshot = None  # the next trial reads afresh
        super().after_trial(study, trial, *args)


SamplerKind = Literal["front", "tpe"]


def make_sampler(
    seed: int | None, space: SearchSpace | None = None, kind: SamplerKind = "tpe"
) -> optuna.samplers.BaseSampler:
    """The front sampler (searcher/study/front_sampler.py) where the space is given and costs
    are known before training; else Optuna's multivariate TPE."""
    if kind == "front" and space is not None:
        from searcher.study.front_sampler import FrontSampler
        from space.cost import approximate_gflops  # torch: only a search gets here

        return FrontSampler(space, approximate_gflops(space.candidates()), seed)
    with warnings.catch_warnings():  # multivariate/group TPE are stable in practice
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return SnapshotTPESampler(
            seed=seed,
            multivariate=True,
            group=True,  # conditional per-family parameters
            n_startup_trials=8,
        )
