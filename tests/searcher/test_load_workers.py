"""Many workers on one PostgreSQL study (benchmarks/workers_load.py at test scale): the target
exact, nothing trained twice, nothing left running, one idle connection per worker."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from searcher.study.storage import open_storage
from tests.searcher.test_workers import postgres_or_skip

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def workers_load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("workers_load", BENCHMARKS / "workers_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("workers_load", module)
    spec.loader.exec_module(module)
    return module


def test_a_worker_keeps_one_idle_connection_to_a_database_server() -> None:
    storage = open_storage(postgres_or_skip())
    try:
        assert storage.engine.pool.size() == 1
    finally:
        storage.engine.dispose()


def test_stand_in_workers_reach_the_target_exactly_through_the_real_claim() -> None:
    postgres_or_skip()
    row = workers_load().run_one(2, trial_s=0.2, per_worker=2, proxy=False, limit_s=90)
    assert row["exact"] == "yes" and row["trained twice"] == 0 and row["left running"] == 0
    assert row["DB conns (peak)"] <= 2 + 3  # a worker's, the harness's and the probe's
    assert row["claim p99 ms"] == row["claim p99 ms"]  # measured (not NaN): claims happened
