"""`searcher compare`: the series of the papers on the same data and budget.

single networks (S=1) · divided, co-trained ensembles (Zhao et al.) · independently trained
homogeneous ensembles · heterogeneous ensembles (Kondratyuk & Tan) · divided, co-trained
ensembles whose members first imitate the wide network (Zhou et al., where the recipe has at
least 2 epochs and the families are imitable). Each series is its own
study in one storage, so the dashboard's comparison tab reads them side by side.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from searcher.run.config import SearchConfig
from searcher.run.loop import run_search, study_records
from searcher.study import attrs
from searcher.study.records import TrialRecord
from searcher.study.tables import render
from space.errors import ConfigError
from space.search_space import SearchSpace


@dataclass(frozen=True)
class Series:
    name: str
    study_suffix: str
    space: SearchSpace


def series_spaces(homogeneous: SearchSpace, heterogeneous: SearchSpace) -> list[Series]:
    if homogeneous.kind != "homogeneous" or heterogeneous.kind != "heterogeneous":
        raise ConfigError("compare needs a homogeneous --space and a heterogeneous --hetero-space")
    divided = tuple(s for s in homogeneous.networks if s > 1)
    if 1 not in homogeneous.networks or not divided:
        raise ConfigError(f"space '{homogeneous.name}' needs S = 1 and some S > 1 to compare")

    def restricted(networks: tuple[int, ...], mode: str, suffix: str) -> SearchSpace:
        space = dataclasses.replace(
            homogeneous, name=f"{homogeneous.name}-{suffix}", networks=networks
        )
        return space.with_recipe(mode=mode)

    series = [
        Series("single network", "single", restricted((1,), "cotrain", "single")),
        Series("divided, co-trained", "cotrain", restricted(divided, "cotrain", "cotrain")),
        Series(
            "independent ensemble", "independent", restricted(divided, "independent", "independent")
        ),
        Series(
            "heterogeneous ensemble", "heterogeneous", heterogeneous.with_recipe(mode="independent")
        ),
    ]
    try:  # Go Wide, Then Narrow: needs >= 2 epochs (imitation, then the head) and imitable families
        wide = restricted(divided, "cotrain", "wide-then-narrow")
        series.append(Series("wide then narrow", "wide-then-narrow", wide.with_recipe(init="wide_then_narrow")))  # fmt: skip
    except ConfigError:
        pass
    return series


def best_within(records: list[TrialRecord], config: SearchConfig) -> TrialRecord | None:
    budget = config.budget
    fitting = [
        r for r in records if budget.gflops is None or r.attrs[attrs.GFLOPS] <= budget.gflops
    ]
    return max(fitting, key=lambda r: r.accuracy, default=None)


def run_compare(
    config: SearchConfig, heterogeneous: SearchSpace, out: Callable[[str], None] = print
) -> list[dict]:
    """Runs (or resumes) the series' studies with the same data, budget and trial count."""
    rows = []
    for series in series_spaces(config.space, heterogeneous):
        name = f"{config.data}-compare-{series.study_suffix}"
        out(f"\n=== {series.name}: study '{name}' ===")
        series_config = dataclasses.replace(config, space=series.space, study=name)
        summary = run_search(series_config, out=out)
        records = study_records(summary.study_name, summary.storage)
        trained = [r for r in records if r.status == "trained"]
        pruned = sum(r.status == "pruned" for r in records)
        best = best_within(trained, config)
        rows.append({
            "series": series.name,
            "study": name,
            "trials trained + pruned": f"{len(trained)} + {pruned}",
            "best accuracy": f"{best.accuracy:.4f}" if best else "-",
            "best candidate": best.label if best else "-",
            "GFLOPs": f"{best.attrs[attrs.GFLOPS]:.4g}" if best else "-",
            "slowest member ms": f"{best.attrs.get(attrs.SLOWEST_MEMBER_MS, 0):.3g}" if best else "-",
        })  # fmt: skip
    out(f"\nbest accuracy of each series within {config.budget.describe()}:")
    out(render(rows))
    return rows
