"""The front sampler: each trial trains the candidate expected to grow the front the most.

divco's answer is a front of accuracy against cost, and the cost of every candidate is known
before training. So the sampler asks one question of each untried candidate: by how much is it
expected to grow the front's hypervolume (searcher/study/hypervolume_gain.py), given a GP's
belief about its accuracy (searcher/study/front_model.py) fitted to every run so far? The
largest expected gain is trained next: a cheap candidate that may top everything below its
cost, or an untried region the GP knows little about, weighs against an accurate one that can
only add a sliver at the expensive end. Every seed is a run of the GP, racing's further seeds
included (the study attributes `confirm:<trial>`), and the front it extends is on seed means,
as divco reports it. Candidates trained, running, infeasible, or stopped more often than a
retry allows are not proposed again (more seeds are racing's, searcher/run/racing.py). Until
`startup` candidates are trained it draws uniformly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from searcher.study import attrs
from searcher.study.front_model import FrontModel, describe, seed_means
from searcher.study.hypervolume_gain import expected_gain, staircase
from searcher.study.seeds import confirmations
from space.candidate import Candidate
from space.search_space import SearchSpace

STARTUP = 4  # trained candidates before the GP proposes (references and the anchor count)
BLOCKED_STATUS = ("infeasible",)
UNSETTLED = (TrialState.RUNNING, TrialState.WAITING)


class FrontSampler(optuna.samplers.BaseSampler):
    """Proposes whole candidates of `space`; `gflops` maps each candidate id to its cost."""

    def __init__(
        self, space: SearchSpace, gflops: Mapping[str, float], seed: int | None = None,
        startup: int = STARTUP,
    ) -> None:  # fmt: skip
        self.template = space.template()
        self.candidates = candidates = {c.id: c for c in space.candidates()}
        self.excluded: set[str] = set()
        self.params = {cid: space.trial_params(c) for cid, c in candidates.items()}
        self.log_cost = {cid: math.log10(gflops[cid]) for cid in candidates}
        costs = list(self.log_cost.values())  # the reference cost: past the costliest candidate
        self.limit = max(costs) + 0.05 * (max(costs) - min(costs) or 1.0)
        families, inits = space.family_names, list(space.inits)
        self.model = FrontModel(
            {cid: describe(c, self.log_cost[cid], families, inits)
             for cid, c in candidates.items()}, seed)  # fmt: skip
        self.rng = np.random.default_rng(seed)
        self.random = optuna.samplers.RandomSampler(seed)
        self.startup = startup
        self._ids: dict[tuple[tuple[str, Any], ...], str] = {}
        self._choice: tuple[int, dict[str, Any]] | None = None

    def restrict(self, fits: Callable[[Candidate], bool]) -> None:
        """Never proposes a candidate that `fits` refuses (a static budget: its cost is known),
        so a tight budget does not spend a run's idle-proposal limit on refusals."""
        self.excluded = {cid for cid, c in self.candidates.items() if not fits(c)}

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, name: str, distribution: BaseDistribution
    ) -> Any:
        if self._choice is None or self._choice[0] != trial._trial_id:
            trials = study.get_trials(deepcopy=False)
            seeds = confirmations(study.user_attrs)  # racing's further seeds of trained trials
            self._choice = (trial._trial_id, self.choose(trials, seeds))
        value = self._choice[1].get(name)
        if isinstance(distribution, CategoricalDistribution) and value in distribution.choices:
            return value
        return self.random.sample_independent(study, trial, name, distribution)

    def choose(
        self, trials: list[FrozenTrial], seeds: Mapping[int, Mapping[str, float]] | None = None
    ) -> dict[str, Any]:
        """The trial params of the candidate to train next ({} when none is left); `seeds`:
        every seed's accuracy of confirmed trials, by trial number (searcher/study/seeds.py)."""
        runs, blocked = self.read(trials, seeds or {})
        open_ids = [cid for cid in self.params if cid not in blocked and cid not in self.excluded]
        if not open_ids:
            return {}
        trained = {cid for cid, _ in runs}
        if len(trained) < self.startup:
            return self.params[open_ids[self.rng.integers(len(open_ids))]]
        gains = self.gains(runs, open_ids)
        best = np.flatnonzero(gains >= gains.max() - 1e-12)
        return self.params[open_ids[best[self.rng.integers(len(best))]]]

    def gains(self, runs: list[tuple[str, float]], open_ids: list[str]) -> np.ndarray:
        mean, sd = self.model.fit(runs)
        front = [(self.log_cost[cid], accuracy) for cid, accuracy in seed_means(runs).items()]
        floor = min(accuracy for _, accuracy in runs)
        steps = staircase(front, floor)
        index = self.model.index
        return np.array([
            expected_gain(self.log_cost[cid], mean[index[cid]], sd[index[cid]], steps, floor,
                          self.limit)
            for cid in open_ids
        ])  # fmt: skip

    def read(
        self, trials: list[FrozenTrial], seeds: Mapping[int, Mapping[str, float]]
    ) -> tuple[list[tuple[str, float]], set[str]]:
        """(candidate id, accuracy) of every trained run, and the candidates not to propose."""
        runs: list[tuple[str, float]] = []
        blocked: set[str] = set()
        stopped: Counter[str] = Counter()
        for trial in trials:
            cid = self.candidate_id(trial)
            if cid is None:
                continue
            status = trial.user_attrs.get(attrs.STATUS)
            if trial.state == TrialState.COMPLETE and trial.values and status in (None, "trained"):
                own = seeds.get(trial.number) or {"own": trial.values[0]}
                runs += [(cid, float(a)) for a in own.values()]
                blocked.add(cid)
            elif trial.state in UNSETTLED or status in BLOCKED_STATUS:
                blocked.add(cid)
            elif trial.state == TrialState.PRUNED and status in (None, "pruned"):
                stopped[cid] += 1
        blocked.update(cid for cid, n in stopped.items() if n > attrs.PRUNED_RETRIES)
        return runs, blocked

    def candidate_id(self, trial: FrozenTrial) -> str | None:
        key = tuple(sorted(trial.params.items()))
        if key not in self._ids:
            try:
                self._ids[key] = Candidate.from_params(trial.params, self.template).id
            except (KeyError, ValueError):  # a running trial still sampling its params
                return None
        return self._ids[key] if self._ids[key] in self.params else None
