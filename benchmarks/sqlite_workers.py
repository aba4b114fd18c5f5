"""Benchmark (not a test): several local processes on one SQLite study, as `--workers N` runs them.

Each process runs the storage calls of a worker with a zero-second trial (pop a queued trial or
ask a new one, write its attributes, tell it) as fast as it can; the study is seeded with a
queue, as a new study is with its references. Counts, per storage setting, the "database is
locked" errors that reached the caller, other errors, queued trials taken by two processes at
once (the same trial trained twice), and calls per second:

- `optuna`: Optuna's RDB storage on the URL, plain (rollback journal, 5 s busy wait);
- `wal`: WAL and a 60 s busy timeout (divco before issue 26);
- `divco`: `open_storage` now (also BEGIN IMMEDIATE and the outage retry).

    .venv/bin/python benchmarks/sqlite_workers.py --processes 4 --trials 60
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from collections import Counter
from pathlib import Path

import optuna
from tabulate import tabulate

STUDY = "bench"


def storage_for(setting: str, path: Path) -> optuna.storages.BaseStorage:
    url = f"sqlite:///{path}"
    if setting == "divco":
        from searcher.study.storage import open_storage

        return open_storage(url)
    if setting == "wal":
        from searcher.study.storage import _use_wal

        _use_wal(str(path))
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    return optuna.storages.RDBStorage(url)


def worker(setting: str, path: str, trials: int, results: multiprocessing.Queue) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    errors: Counter[str] = Counter()
    taken: list[int] = []
    study = optuna.load_study(study_name=STUDY, storage=storage_for(setting, Path(path)))
    for _ in range(trials):
        try:
            trial = study.ask()
            taken.append(trial.number)
            x = trial.suggest_int("x", 0, 10_000)
            for key in ("candidate_id", "status", "worker"):
                trial.set_user_attr(key, x)
            study.tell(trial, [float(x), float(-x)])
        except Exception as exc:  # counted, not raised: this is what would reach the user
            text = str(exc) + str(exc.__cause__ or "")
            errors[
                "database is locked" if "database is locked" in text else type(exc).__name__
            ] += 1
    results.put((taken, dict(errors)))


def measure(setting: str, processes: int, trials: int, queued: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        study = optuna.create_study(
            study_name=STUDY,
            storage=storage_for(setting, path),
            directions=["maximize", "minimize"],
        )
        for x in range(queued):
            study.enqueue_trial({"x": x})
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        procs = [context.Process(target=worker, args=(setting, str(path), trials, results))
                 for _ in range(processes)]  # fmt: skip
        start = time.perf_counter()
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join()
        seconds = time.perf_counter() - start
    numbers = Counter(n for taken, _ in outcomes for n in taken)
    errors: Counter[str] = Counter()
    for _, counts in outcomes:
        errors.update(counts)
    return {
        "storage": setting,
        "locked errors": errors.pop("database is locked", 0),
        "other errors": ", ".join(f"{k} {v}" for k, v in errors.items()) or "0",
        "trials taken twice": sum(1 for n in numbers.values() if n > 1),
        "trials/s": round(sum(numbers.values()) / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--trials", type=int, default=60, help="per process")
    parser.add_argument("--queued", type=int, default=20, help="trials enqueued before the start")
    parser.add_argument("--settings", default="optuna,wal,divco")
    args = parser.parse_args()
    rows = [measure(s, args.processes, args.trials, args.queued) for s in args.settings.split(",")]
    print(f"{args.processes} processes x {args.trials} zero-second trials, {args.queued} queued")
    print(tabulate(rows, headers="keys"))


if __name__ == "__main__":
    main()
