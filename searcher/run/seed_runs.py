"""One confirmation run: a trained trial's candidate trained again with a further seed, under
this worker's lease (searcher/run/seed_claim.py), stored the moment it ends as a seed of the
study attribute `confirm:<trial>` (searcher/study/seeds.py). Shared by racing inside `searcher
run` and by `searcher confirm`, so each reuses the other's runs.

Each further seed changes the training seed (member init, order, augmentation); the validation
split stays the study's. Confirmation runs use the trial's full recipe and keep no checkpoint:
the trial's own model is what exports.
"""

from __future__ import annotations

from collections.abc import Callable

import optuna

from searcher.run.seed_claim import SeedClaims
from searcher.study import attrs
from searcher.study.records import TrialRecord
from searcher.study.seeds import confirmation_key, confirmations
from space.candidate import Candidate
from trainers.data import DataSource

Trainer = Callable[..., object]  # trainers.train.cotrain.train; tests inject a counting one


def further_seeds(record: TrialRecord, count: int) -> list[int]:
    """The trial's own seed + 1, + 2, ...: the same seeds for every trial of a study, so two
    confirmed trials can be compared seed by seed."""
    own = int(record.attrs.get(attrs.SEED) or 0)
    return [own + k for k in range(1, count + 1)]


def stored_runs(study: optuna.Study, record: TrialRecord) -> dict[str, float]:
    """{seed: accuracy} stored for the trial, its own run included, read afresh."""
    return confirmations(study.user_attrs).get(record.number) or {
        str(record.attrs.get(attrs.SEED) or 0): record.accuracy
    }


def lease_for(record: TrialRecord, floor_s: float = 30.0) -> float:
    """Three epochs of the trial's own run (the lease is renewed every epoch), at least floor_s."""
    epochs = max(1, int(record.attrs.get(attrs.EPOCHS_RUN) or 1))
    return max(floor_s, 3 * float(record.attrs.get(attrs.TRAIN_SECONDS) or 0.0) / epochs)


def train_seed(
    study: optuna.Study, record: TrialRecord, seed: int, data: DataSource, device: str,
    trainer: Trainer, claims: SeedClaims,
) -> float:  # fmt: skip
    """One confirmation run under this worker's lease: trains, stores, releases the lease."""
    lease = lease_for(record)
    renew = lambda report: claims.write(record.number, seed, lease)  # noqa: E731
    try:
        result = trainer(
            Candidate.from_dict(record.candidate), data, seed=seed, device=device,
            callbacks=[renew],
        )  # fmt: skip
        accuracy = float(result.val.accuracy)  # type: ignore[attr-defined]
        runs = stored_runs(study, record)  # afresh: `searcher confirm` may have added seeds
        runs[str(seed)] = accuracy
        study.set_user_attr(confirmation_key(record.number), runs)
    finally:
        claims.release(record.number)
    return accuracy
