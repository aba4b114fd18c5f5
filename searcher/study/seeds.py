"""Seed confirmations of trials (racing in `searcher run`, `searcher confirm`) and the paired
test over seeds.

Optuna refuses to change a finished trial's attributes, so each trial's confirmation runs are
stored as the study user attribute `confirm:<trial number>` = {seed: validation accuracy}, the
trial's own run included, written after every finished run. Readers see them as the trial's
attributes `confirm_seeds`, `confirm_mean` and `confirm_std` (`records.with_confirmations`).
A run under way holds the study attribute `racing:<trial number>` = {seed, worker, until} (a
lease, searcher/run/seed_claim.py); null once the run is stored.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from searcher.study import attrs

PREFIX = "confirm:"
CLAIM_PREFIX = "racing:"


def confirmation_key(number: int) -> str:
    return f"{PREFIX}{number}"


def claim_key(number: int) -> str:
    return f"{CLAIM_PREFIX}{number}"


def live_claims(study_attrs: Mapping[str, Any], now: float) -> dict[int, dict[str, Any]]:
    """Trial number -> the lease of the confirmation run training now (not yet expired)."""
    return {
        int(key.removeprefix(CLAIM_PREFIX)): dict(value)
        for key, value in study_attrs.items()
        if key.startswith(CLAIM_PREFIX) and value and float(value.get("until", 0)) > now
    }


def confirmation_runs(study_attrs: Mapping[str, Any]) -> int:
    """Confirmation runs stored: every seed of a `confirm:` attribute but the trial's own run."""
    return sum(max(0, len(seeds) - 1) for seeds in confirmations(study_attrs).values())


def confirmations(study_attrs: Mapping[str, Any]) -> dict[int, dict[str, float]]:
    """Trial number -> {seed: accuracy} from the study's user attributes."""
    return {
        int(key.removeprefix(PREFIX)): dict(value)
        for key, value in study_attrs.items()
        if key.startswith(PREFIX) and key.removeprefix(PREFIX).isdigit()
    }


def summary(seeds: Mapping[str, float]) -> dict[str, Any]:
    """The documented attributes: per-seed accuracies, their mean and sample std (n - 1)."""
    values = list(seeds.values())
    return {
        attrs.CONFIRM_SEEDS: dict(seeds),
        attrs.CONFIRM_MEAN: statistics.fmean(values),
        attrs.CONFIRM_STD: statistics.stdev(values) if len(values) > 1 else 0.0,
    }


@dataclass(frozen=True)
class PairedTest:
    """Two-sided paired t-test on per-seed accuracy differences (b - a), seeds matched."""

    seeds: int
    mean_difference: float
    std_difference: float
    p_value: float  # nan with fewer than 2 seeds or no spread at all

    @property
    def beyond_seed_spread(self) -> bool:
        return not math.isnan(self.p_value) and self.p_value < 0.05


def paired_test(a: Mapping[str, float], b: Mapping[str, float]) -> PairedTest | None:
    """None when the two share no seed; significance needs at least 2 shared seeds."""
    common = sorted(set(a) & set(b), key=str)
    if not common:
        return None
    diffs = [b[s] - a[s] for s in common]
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return PairedTest(1, mean, 0.0, math.nan)
    std = statistics.stdev(diffs)
    if std == 0.0:
        p = math.nan if mean == 0.0 else 0.0
        return PairedTest(len(diffs), mean, std, p)
    from scipy import stats  # scikit-learn's dependency; only this test needs it

    t = mean / (std / math.sqrt(len(diffs)))
    return PairedTest(len(diffs), mean, std, float(2 * stats.t.sf(abs(t), len(diffs) - 1)))
