"""The worker pool: one process per GPU (pinned to it) or N CPU processes over one study.

Only start-up and shutdown live here. Which candidate each worker trains, the heartbeat, and the
retry of a killed worker's trial are Optuna's RDB storage's work: several `searcher worker`
commands on several machines that point at one PostgreSQL URL form one search.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import optuna

from searcher.run.config import SearchConfig
from searcher.run.loop import PreparedSearch, run_search
from searcher.study import attrs
from searcher.study.open import load_existing_study
from searcher.study.outage import outage_cause
from searcher.study.storage import open_storage
from space.budget import Budget
from space.errors import ConfigError, DivcoError
from space.search_space import space_from_dict


def parse_devices(text: str) -> list[str]:
    """'0,2' -> ['cuda:0', 'cuda:2'], refusing indices this machine does not have."""
    import torch

    try:
        indices = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(
            f"--devices '{text}' must be comma-separated GPU indices, e.g. 0,1"
        ) from None
    count = torch.cuda.device_count()
    missing = [i for i in indices if not 0 <= i < count]
    if not indices or missing:
        shown = ", ".join(map(str, missing)) or "none given"
        raise ConfigError(
            f"device index {shown} does not exist; this machine has {count} CUDA device(s)"
        )
    return [f"cuda:{i}" for i in indices]


def trial_slots(
    config: SearchConfig, devices: Sequence[str], cpu_workers: int
) -> list[tuple[str, ...]]:
    """The devices of each worker's trials: --devices-per-trial K of the GPUs given (so
    devices / K workers), or K CPU processes for each CPU worker. Checked before anything starts."""
    k = config.devices_per_trial
    if devices:
        if k > len(devices) or len(devices) % k:
            raise ConfigError(
                f"--devices-per-trial {k} needs a multiple of {k} devices; --devices gives "
                f"{len(devices)} ({', '.join(devices)})"
            )
        slots = [tuple(devices[i : i + k]) for i in range(0, len(devices), k)]
    else:
        if k > 1 and config.device not in ("cpu", "auto"):
            raise ConfigError(
                f"--devices-per-trial {k} on GPUs needs --devices with {k} GPU indices per worker"
            )
        cores = os.cpu_count() or 1
        if k > cores:
            raise ConfigError(
                f"--devices-per-trial {k} needs {k} devices; this machine has {cores} CPU core(s) "
                "and no --devices"
            )
        # one process per trial runs where --device says; K processes share this CPU
        slots = [(config.device,) if k == 1 else ("cpu",) * k] * cpu_workers
    if k > 1:
        from trainers.train.distributed import check_shards  # torch.distributed: only when used

        check_shards(config.space.recipe.batch_size, k)
    return slots


def worker_configs(
    config: SearchConfig, target: int, slots: Sequence[tuple[str, ...]]
) -> list[SearchConfig]:
    """One config per worker: its own devices and sampler seed, the study-wide trial target."""
    labels = [",".join(dict.fromkeys(slot)) for slot in slots]
    return [
        dataclasses.replace(
            config,
            device=slot[0],
            trial_devices=slot if len(slot) > 1 else (),
            seed=config.seed + i,
            n_trials=target,
            trial_target="total",
            worker=f"w{i} {label}" if len(slots) > 1 else "",
        )
        for i, (slot, label) in enumerate(zip(slots, labels, strict=True))
    ]


def config_from_study(storage_url: str, study_name: str | None, **overrides: Any) -> SearchConfig:
    """What a worker joining an existing study needs, read from the study itself."""
    study = load_existing_study(open_storage(storage_url), study_name)
    stored = study.user_attrs
    if attrs.SPACE not in stored:
        raise ConfigError(f"study '{study.study_name}' was not created by searcher run")
    values: dict[str, Any] = {
        "space": space_from_dict(
            stored[attrs.SPACE], stored.get(attrs.SPACE_NAME, study.study_name)
        ),
        "data": stored[attrs.DATA],
        "objective": stored[attrs.OBJECTIVE],
        "budget": Budget.from_dict(stored.get(attrs.BUDGET, {})),
        "storage": storage_url,
        "study": study.study_name,
        "n_trials": stored.get(attrs.TARGET, 0),
        "trial_target": "total",
        **stored.get(attrs.STOPPING, {}),
        **stored.get(attrs.MEASUREMENT, {}),
    }
    return SearchConfig(**(values | {k: v for k, v in overrides.items() if v is not None}))


def run_pool(configs: Sequence[SearchConfig], prepared: PreparedSearch | None = None) -> int:
    """Runs the workers (in this process when there is one) and returns the exit status."""
    per_trial = configs[0].devices_per_trial  # processes of each worker's trial
    threads = max(1, (os.cpu_count() or 1) // (len(configs) * per_trial))
    if len(configs) == 1:
        return worker_main(configs[0], threads if per_trial > 1 else None, prepared=prepared)
    context = multiprocessing.get_context("spawn")  # CUDA and fork do not mix
    processes = [context.Process(target=_child, args=(c, threads), name=c.worker) for c in configs]
    for process in processes:
        process.start()

    def forward(signum: int, _frame: object) -> None:
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:  # Ctrl-C reached the children too; let them finish cleanly
        forward(signal.SIGINT, None)
        for process in processes:
            process.join()
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    for process in processes:
        if process.exitcode is not None and process.exitcode < 0:
            print(f"searcher: worker {process.name} died (signal {-process.exitcode}); its trial is "
                  "failed and retried by the others", file=sys.stderr, flush=True)  # fmt: skip
    codes = [p.exitcode for p in processes]
    return 1 if any(c is None or c < 0 for c in codes) else next((c for c in codes if c), 0)


def _child(config: SearchConfig, threads: int) -> None:
    sys.exit(worker_main(config, threads))


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def worker_main(
    config: SearchConfig, threads: int | None, prepared: PreparedSearch | None = None
) -> int:
    """One worker: SIGTERM and Ctrl-C mark its running trial failed and end it cleanly. The
    caller's SIGTERM handler comes back afterwards (a notebook calling `api.search` keeps its
    own)."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        return _run_worker(config, prepared)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_worker(config: SearchConfig, prepared: PreparedSearch | None) -> int:
    label = f"[{config.worker}] " if config.worker else ""
    try:
        run_search(config, out=lambda line: print(line, flush=True), prepared=prepared)
    except KeyboardInterrupt:
        print(f"searcher: {label}interrupted; the running trial is marked failed and every stored "
              "trial kept. Run the same command again to resume.", file=sys.stderr, flush=True)  # fmt: skip
        return 130
    except DivcoError as exc:
        print(f"searcher: {label}error: {exc}", file=sys.stderr, flush=True)
        return 2
    except Exception as exc:  # Optuna's cleanup fails too while the database is away
        cause = outage_cause(exc)
        if cause is None:
            raise
        print(f"searcher: {label}error: {cause}", file=sys.stderr, flush=True)
        return 2
    return 0
