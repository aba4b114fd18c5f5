"""Benchmark (not a test): one read of a study's running trials, Optuna's ORM read vs divco's.

Creates a throw-away study on PostgreSQL (localhost:5432, database `test`, trust auth) with
`--running` running trials of 5 params and 14 attributes each (what 64 stand-in workers hold at
once), reads them `--reads` times each way and prints the CPU and wall milliseconds per read.

    .venv/bin/python benchmarks/trial_read.py --running 64
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

import optuna
from optuna.storages import RDBStorage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from searcher.study.storage import open_storage
from searcher.study.trial_reader import read_trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@localhost:5432/test")
    parser.add_argument("--running", type=int, default=64)
    parser.add_argument("--reads", type=int, default=30)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    name, storage = f"trial-read-{uuid.uuid4().hex[:8]}", open_storage(args.url)
    study = optuna.create_study(storage=storage, study_name=name,
                                directions=["maximize", "minimize"])  # fmt: skip
    try:
        for _ in range(args.running):
            trial = study.ask()
            for param in ("family", "resnet.depth", "resnet.width", "networks", "image_size"):
                trial.suggest_categorical(param, [1, 2, 3, 4])
            for key in range(14):
                trial.set_user_attr(f"attr{key}", {"values": [1, 2, 3], "label": "x" * 20})
        sid = study._study_id
        for label, read in (
            ("Optuna (ORM)", RDBStorage._get_trials),
            ("divco (rows)", read_trials),
        ):
            read(storage, sid, None, set(), -1)
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(args.reads):
                read(storage, sid, None, set(), -1)
            cpu_ms = (time.process_time() - cpu) / args.reads * 1e3
            wall_ms = (time.perf_counter() - wall) / args.reads * 1e3
            print(f"{label}: {cpu_ms:.1f} ms CPU, {wall_ms:.1f} ms wall per read "
                  f"of {args.running} running trials")  # fmt: skip
    finally:
        optuna.delete_study(study_name=name, storage=storage)
        storage.engine.dispose()


if __name__ == "__main__":
    main()
