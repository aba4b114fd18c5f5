"""Starting or resuming a search: what `searcher run` and `searcher compare` do, as functions.

The command line parses its options into `SearchOptions` and calls `run_search_options`; the
Python API's `search(**options)` calls the same function, so both create, seed and resume a
study in exactly the same way (the same study name resumes and grows the stored study).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from searcher.api.options import SearchOptions, search_config, space_of
from searcher.api.results import Study
from searcher.study import attrs
from searcher.study.storage import default_storage_url
from space.errors import DivcoError


class SearchError(DivcoError):
    """The search stopped with an error; its one line was printed where it happened."""


def run_search_options(options: SearchOptions) -> int:
    """`searcher run`: the exit status (0 done, 2 an error line printed, 130 interrupted)."""
    from searcher.run.loop import prepare, target_of
    from searcher.run.workers import parse_devices, run_pool, trial_slots, worker_configs

    devices = parse_devices(options.devices) if options.devices else []
    config = search_config(options)
    slots = trial_slots(config, devices, options.workers)
    prepared = prepare(config)  # creates and seeds the study once, before any worker starts
    target = target_of(prepared.study, config)
    prepared.study.set_user_attr(attrs.TARGET, target)
    prepared.study.set_user_attr(attrs.RUN_TRIALS, config.n_trials)  # the same command resumes
    return run_pool(worker_configs(config, target, slots), prepared)


def search(**options: Any) -> Study:
    """Starts or resumes a search with `searcher run`'s options as keywords (`budget_gflops=20`,
    `n_trials=4`, ...), prints its progress as the command does, and returns the stored study.

    A bad option raises `ConfigError`; an error during the search raises `SearchError` (its line
    is printed above); Ctrl-C keeps every stored trial and raises `KeyboardInterrupt`.
    """
    chosen = SearchOptions.from_keywords(options)
    status = run_search_options(chosen)
    if status == 130:
        raise KeyboardInterrupt
    if status != 0:
        raise SearchError(f"the search stopped with exit status {status}; see the error above")
    config = search_config(chosen)
    storage = chosen.storage or default_storage_url(config.runs_dir)
    return Study(storage=storage, name=config.study_name)


def compare_options(options: SearchOptions, hetero_space: str | None = None) -> int:
    """`searcher compare`: the series as studies in one storage (`hetero_space` as `--space`)."""
    from searcher.run.compare import run_compare

    homogeneous = space_of(options, "homogeneous")
    heterogeneous = space_of(dataclasses.replace(options, space=hetero_space), "heterogeneous")
    run_compare(search_config(options, homogeneous), heterogeneous)
    return 0
