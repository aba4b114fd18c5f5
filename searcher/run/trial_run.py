"""One candidate, start to finish: latency (before training, so a latency budget rejects it
untrained), co-training with the progress and pruning callbacks, checkpoint, result attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from searcher.run.teacher import TeacherFinder, train_with_teacher
from searcher.study import attrs
from space.budget import mnas_reward
from space.candidate import Candidate
from space.errors import ConfigError
from trainers.data import DataSource
from trainers.measure.latency import LatencyTable, measure_latency
from trainers.train.checkpoint import save_checkpoint
from trainers.train.cotrain import (
    EpochReport,
    TrainingCallback,
    TrainResult,
    build_ensemble,
    resolve_device,
    train,
)

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
    if config.latency_runtime == "onnxruntime":
        from trainers.measure.runtime_latency import onnxruntime_table  # imports onnxruntime

        return onnxruntime_table(candidate, batches, members)
    return measure_latency(
        candidate, batches, resolve_device(config.device), warmup=2, repeats=5, members=members
    )


def latency_excess(table: LatencyTable, config: SearchConfig) -> tuple[list[str], float]:
    """Reasons the measured latency breaks a hard latency budget, and the relative excess."""
    budget, batch = config.budget, config.budget.latency_batch
    fastest = table.fastest(batch)  # concurrent or fused, whichever runs the ensemble quicker
    checks = [(fastest, budget.latency_ms)]
    if budget.latency_reward == "hard":
        checks.append((table.row("slowest_member", batch), budget.member_latency_ms))
    reasons, excess = [], 0.0
    for row, limit in checks:
        measured = row.budget_ms  # the p90 where the measurement never settled
        if limit is not None and measured > limit:
            what = "" if row.stable else ", p90 of an unstable measurement"
            reasons.append(
                f"{measured:.3g} ms > {limit:g} ms ({row.mode.replace('_', ' ')}, batch {batch}{what})"
            )
            excess = max(excess, measured / limit - 1.0)
    return reasons, excess


def unstable_rows(table: LatencyTable) -> list[str]:
    """`mode@batch` of every row whose calls never agreed (shown with the trial's latency)."""
    return [f"{r.mode}@{r.batch}" for r in table.rows if not r.stable]


def run_trial(
    candidate: Candidate,
    data: DataSource,
    config: SearchConfig,
    number: int,
    stopper: TrainingCallback | None,
    on_epoch: Callable[[EpochReport], None],
    teacher: TeacherFinder | None = None,
) -> TrialOutcome:
    table = measure(candidate, config)
    fastest = table.fastest(config.budget.latency_batch)
    latency = {
        attrs.LATENCY: table.to_dict(),
        attrs.LATENCY_MS: fastest.median_ms,
        attrs.LATENCY_MODE: fastest.mode,
        attrs.LATENCY_LAYOUT: fastest.layout,  # None for an ONNX Runtime graph
        attrs.SLOWEST_MEMBER_MS: table.median_ms("slowest_member", config.budget.latency_batch),
        attrs.LATENCY_UNSTABLE: unstable_rows(table),
        attrs.DEVICE: table.device,
    }
    reasons, excess = latency_excess(table, config)
    if reasons:
        extra = {attrs.STATUS: "infeasible", attrs.OVER_BUDGET: reasons}
        return TrialOutcome(candidate, "infeasible", latency | extra, constraint=excess)
    stoppers = [stopper] if stopper is not None else []
    extra: dict[str, Any] = {}
    if candidate.recipe.init == "wide_then_narrow":  # stage 1 (teacher) + 2 (imitation) first
        if teacher is None:
            raise ConfigError("recipe init wide_then_narrow needs a study to find its teacher in")
        result, extra = train_with_teacher(candidate, data, config, teacher, stoppers, [on_epoch])
    else:
        result = train_on_devices(candidate, data, config, [on_epoch, *stoppers])
    pruned = result.stopped_by == "callback"
    values = latency | result_attrs(result) | extra
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


def train_on_devices(
    candidate: Candidate, data: DataSource, config: SearchConfig,
    callbacks: list[TrainingCallback],
) -> TrainResult:  # fmt: skip
    """One process, or --devices-per-trial processes with this one as rank 0 (the only one
    that runs the callbacks, so the only one that talks to the storage)."""
    if config.devices_per_trial == 1:
        return train(candidate, data, seed=config.seed, device=config.device, callbacks=callbacks)
    from trainers.train.distributed import train_data_parallel  # spawns processes: only when asked

    return train_data_parallel(
        candidate, data, devices=config.devices, seed=config.seed, callbacks=callbacks
    )


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
