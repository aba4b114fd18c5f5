"""`searcher confirm`: front candidates retrained with further seeds, so that a front is not one
seed's luck (on digits one validation image is 0.28 points, and a search trains each candidate
once).

Every finished run is stored at once (searcher/run/seed_runs.py), so an interrupted
confirmation resumes where it stopped and never trains a run twice; runs that racing inside
`searcher run` stored are reused, and a seed a search trains right now is left to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import optuna

from searcher.run.loop import SPLIT_SEED
from searcher.run.seed_claim import SeedClaims
from searcher.run.seed_runs import Trainer, further_seeds, lease_for, stored_runs, train_seed
from searcher.study import attrs
from searcher.study.frontier import FRONT_ATTR, front_summary, front_view, pareto_front, seed_mean
from searcher.study.open import OBJECTIVE_ATTRS, load_existing_study
from searcher.study.records import TrialRecord, read_records
from searcher.study.storage import open_storage
from searcher.study.tables import confirm_rows, divide_rows, render
from space.errors import ConfigError
from trainers.data import DataSource, load_data
from trainers.train.cotrain import train


@dataclass(frozen=True)
class ConfirmRequest:
    storage: str
    study: str | None
    seeds: int  # further seeds per trial, besides the trial's own
    top: int | None = None  # the N most accurate trials of the front (default: all of it)
    trials: tuple[int, ...] = ()  # these trials instead of the front
    data_dir: str | None = None
    device: str = "cpu"
    runs_dir: Path | None = None  # where an image folder's index is cached (as `searcher run`)


def pick_trials(
    records: Sequence[TrialRecord], cost_key: str, top: int | None, numbers: Sequence[int]
) -> list[TrialRecord]:
    if numbers:
        by_number = {r.number: r for r in records}
        missing = [n for n in numbers if n not in by_number]
        if missing:
            raise ConfigError(f"no trial {missing[0]} in the study (it has {len(records)} trials)")
        untrained = [by_number[n] for n in numbers if by_number[n].status != "trained"]
        if untrained:
            r = untrained[0]
            raise ConfigError(f"trial {r.number} is {r.status}; only trained trials are confirmed")
        return [by_number[n] for n in numbers]
    front = pareto_front(records, cost_key)
    if not front:
        raise ConfigError("the study has no trained trial to confirm")
    chosen = sorted(front, key=lambda r: -seed_mean(r))[:top] if top else front  # type: ignore[operator]
    return sorted(chosen, key=lambda r: r.number)


def confirm(
    request: ConfirmRequest, out: Callable[[str], None] = print, trainer: Trainer | None = None
) -> list[TrialRecord]:
    trainer = trainer or train
    study = load_existing_study(open_storage(request.storage), request.study)
    cost_key = OBJECTIVE_ATTRS[study.user_attrs.get(attrs.OBJECTIVE, "gflops")]
    chosen = pick_trials(read_records(study), cost_key, request.top, request.trials)
    data = load_data(
        study.user_attrs[attrs.DATA], request.data_dir, seed=SPLIT_SEED, cache_dir=request.runs_dir
    )
    out(f"confirming {len(chosen)} trial(s) of study '{study.study_name}' with "
        f"{request.seeds} further seed(s) each")  # fmt: skip
    for record in chosen:
        confirm_trial(study, record, further_seeds(record, request.seeds), data, request, out, trainer)  # fmt: skip
    records = read_records(study)
    confirmed = [r for r in records if r.number in {c.number for c in chosen}]
    out(render(confirm_rows(confirmed)))
    study.set_user_attr(FRONT_ATTR, front_summary(front_view(records, cost_key), cost_key))
    divided = divide_rows(read_records(study))
    if divided:
        out("divide or widen: each divided network against its S=1 network, seed by seed")
        out(render(divided))
    return confirmed


def confirm_trial(
    study: optuna.Study, record: TrialRecord, seeds: Sequence[int], data: DataSource,
    request: ConfirmRequest, out: Callable[[str], None], trainer: Trainer,
) -> None:  # fmt: skip
    """Trains the seeds not stored yet, storing each run as soon as it ends. A seed that a
    search's racing trains right now (its lease, searcher/run/seed_claim.py) is left to it."""
    claims = SeedClaims(study)
    for seed in seeds:
        if str(seed) in stored_runs(study, record):
            continue
        if not claims.take(record.number, seed, lease_for(record)):
            out(f"[trial {record.number}] seed {seed}: another worker trains this trial, skipped")
            continue
        accuracy = train_seed(study, record, seed, data, request.device, trainer, claims)
        out(f"[trial {record.number}] {record.label} seed {seed}: {accuracy:.4f}")
