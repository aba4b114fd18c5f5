"""One candidate, start to finish: latency (before training, so a latency budget rejects it
untrained), co-training with the progress and pruning callbacks, checkpoint, result attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from searcher.run.pruning import CostBucketMedianStopper
from searcher.study import attrs
from space.budget import mnas_reward
from space.candidate import Candidate
from trainers.checkpoint import save_checkpoint
from trainers.cotrain import EpochReport, TrainResult, build_ensemble, resolve_device, train
from trainers.data import DataSource
from trainers.latency import LatencyTable, measure_latency

if TYPE_CHECKING:
    from searcher.run.config import SearchConfig


@dataclass(frozen=True)
class TrialOutcome:
    candidate: Candidate
    status: str  # trained | pruned | infeasible
    attrs: dict[str, Any]
    constraint: float = 0.0  # relative excess over the latency budget


def measure(candidate: Candidate, config: SearchConfig) -> LatencyTable:
    batches = sorted({config.budget.latency_batch, config.throughput_batch})
    members = list(build_ensemble(candidate, config.seed).members)
    return measure_latency(
        candidate, batches, resolve_device(config.device), warmup=2, repeats=7, members=members
    )


def latency_excess(table: LatencyTable, config: SearchConfig) -> tuple[list[str], float]:
    """Reasons the measured latency breaks a hard latency budget, and the relative excess."""
    budget, batch = config.budget, config.budget.latency_batch
    checks = [("concurrent", budget.latency_ms)]
    if budget.latency_reward == "hard":
        checks.append(("slowest_member", budget.member_latency_ms))
    reasons, excess = [], 0.0
    for mode, limit in checks:
        measured = table.median_ms(mode, batch)
        if limit is not None and measured > limit:
            reasons.append(
                f"{measured:.3g} ms > {limit:g} ms ({mode.replace('_', ' ')}, batch {batch})"
            )
            excess = max(excess, measured / limit - 1.0)
    return reasons, excess


def run_trial(
    candidate: Candidate,
    data: DataSource,
    config: SearchConfig,
    number: int,
    stopper: CostBucketMedianStopper | None,
    on_epoch: Callable[[EpochReport], None],
) -> TrialOutcome:
    table = measure(candidate, config)
    latency = {
        attrs.LATENCY: table.to_dict(),
        attrs.LATENCY_MS: table.median_ms("concurrent", config.budget.latency_batch),
        attrs.SLOWEST_MEMBER_MS: table.median_ms("slowest_member", config.budget.latency_batch),
        attrs.DEVICE: table.device,
    }
    reasons, excess = latency_excess(table, config)
    if reasons:
        extra = {attrs.STATUS: "infeasible", attrs.OVER_BUDGET: reasons}
        return TrialOutcome(candidate, "infeasible", latency | extra, constraint=excess)
    callbacks = [on_epoch] + ([stopper] if stopper is not None else [])
    result = train(candidate, data, seed=config.seed, device=config.device, callbacks=callbacks)
    pruned = result.stopped_by == "callback"
    values = latency | result_attrs(result)
    target = config.budget.member_latency_ms
    if target is not None and config.budget.latency_reward == "soft":
        values[attrs.REWARD] = mnas_reward(
            result.val.accuracy, values[attrs.SLOWEST_MEMBER_MS], target
        )
    values[attrs.STATUS] = "pruned" if pruned else "trained"
    if not pruned:
        directory = (
            config.runs_dir.resolve() / config.study_name / f"trial-{number:04d}-{candidate.id}"
        )
        values[attrs.CHECKPOINT] = str(
            save_checkpoint(directory / "ensemble.pt", candidate, result.ensemble)
        )
    return TrialOutcome(candidate, values[attrs.STATUS], values)


def result_attrs(result: TrainResult) -> dict[str, Any]:
    return {
        attrs.ACCURACY: result.val.accuracy,
        attrs.MEMBER_ACCURACIES: list(result.val.member_accuracies),
        attrs.VAL_LOSS: result.val.loss,
        attrs.TEST_ACCURACY: result.test.accuracy if result.test is not None else None,
        attrs.CURVE: [r.val.accuracy for r in result.history],
        attrs.TRAIN_SECONDS: result.train_seconds,
        attrs.IMAGES_PER_S: result.images_per_s,
        attrs.EPOCHS_RUN: len(result.history),
        attrs.STOPPED_BY: "pruned" if result.stopped_by == "callback" else result.stopped_by,
    }
