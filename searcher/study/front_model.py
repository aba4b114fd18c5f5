"""A Gaussian-process belief about every candidate's accuracy, from the runs trained so far.

The candidates of a space are few and known (space.candidates()), so each is a point of a small
numeric description: its families' shares, log depth, width and groups, log S (or M), log image
size, log cost and, where the space searches it, its init. A GP with one length scale per
dimension and a learned noise level (seed noise: one validation image is 0.28 points on digits)
is fitted by scikit-learn on every trained run, each seed an observation, to the log of the error
rate: seed noise is about constant there, while in accuracy it shrinks near 1.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from searcher.study.contest import log_error
from space.candidate import Candidate


def describe(candidate: Candidate, log_cost: float, families: Sequence[str],
             inits: Sequence[str]) -> list[float]:  # fmt: skip
    """The candidate as numbers (before scaling)."""
    archs = candidate.members or (candidate.architecture,) * candidate.networks
    width_factor = 1.0 if candidate.members else math.sqrt(candidate.networks)
    row = [sum(a.family == f for a in archs) / len(archs) for f in families]
    row += [float(np.mean([math.log2(getattr(a, k)) for a in archs]))
            for k in ("depth", "width", "groups")]  # fmt: skip
    row += [math.log2(width_factor), math.log2(len(archs)), math.log2(candidate.image_size)]
    row += [log_cost] + [float(candidate.recipe.init == i) for i in inits[1:]]
    return row


MAX_RUNS = 500  # a fit is cubic in its rows: past this, seed means, then a seeded subset


def seed_means(runs: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Each candidate's mean accuracy over its (id, accuracy) runs, in first-run order."""
    by_id: dict[str, list[float]] = {}
    for cid, accuracy in runs:
        by_id.setdefault(cid, []).append(accuracy)
    return {cid: float(np.mean(values)) for cid, values in by_id.items()}


class FrontModel:
    """Mean and sd of every candidate's accuracy; fitted anew on each call of `fit`."""

    def __init__(self, features: Mapping[str, Sequence[float]], seed: int | None) -> None:
        self.ids = list(features)
        table = np.array([features[i] for i in self.ids], dtype=float)
        low, span = table.min(axis=0), np.ptp(table, axis=0)
        self.x = (table - low) / np.where(span > 0, span, 1.0)
        self.index = {cid: row for row, cid in enumerate(self.ids)}
        self.seed = seed

    def fit(self, runs: Sequence[tuple[str, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd of log(1 - accuracy) for every candidate (in `ids` order) given
        (id, accuracy) runs."""
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        runs = self.bounded(runs)
        dims = self.x.shape[1]
        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
            np.ones(dims), (5e-2, 2e1), nu=2.5
        ) + WhiteKernel(1e-2, (1e-4, 1.0))
        gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=self.seed)
        x = self.x[[self.index[cid] for cid, _ in runs]]
        y = np.array([log_error(accuracy) for _, accuracy in runs])
        with warnings.catch_warnings():  # bounds reached on tiny data: the fit is still usable
            warnings.simplefilter("ignore")
            gp.fit(x, y)
            mean, sd = gp.predict(self.x, return_std=True)
        return mean, sd

    def bounded(self, runs: Sequence[tuple[str, float]]) -> Sequence[tuple[str, float]]:
        """At most MAX_RUNS rows (about a second of fitting on a 2-core CPU): each candidate's
        seed mean once runs exceed it, and a seeded subset of those if candidates do too."""
        if len(runs) <= MAX_RUNS:
            return runs
        means = list(seed_means(runs).items())
        if len(means) <= MAX_RUNS:
            return means
        keep = np.random.default_rng(self.seed).choice(len(means), MAX_RUNS, replace=False)
        return [means[i] for i in sorted(keep)]
