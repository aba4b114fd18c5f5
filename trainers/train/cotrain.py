"""Co-training S members on different views of each batch (Zhao et al.), and its baseline.

Modes (the candidate's recipe): `cotrain` gives every member its own augmentation of the same
images in the same order and adds the JS co-training term; `independent` gives every member its
own seed, its own order and no co-training term (the Kondratyuk & Tan ensemble baseline).
Intermediate validation accuracy reaches the caller through callbacks; a callback raising
`StopTraining` ends the run early, which is how the searcher prunes without this module
knowing about Optuna. Batches come from a `trainers.data.feed.Feed` (in memory, or streamed by loader
processes); how members execute (memory format, torch.compile) is `trainers.train.execution`. A trainer
that is one process of a data-parallel group (`trainers.train.distributed`) is told so by its `Peers`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from space.candidate import Candidate
from space.division import divide, member_weight_decay
from space.errors import ConfigError
from space.families import build_member
from trainers.data.feed import open_feed
from trainers.data.source import DataSource
from trainers.train.ensemble import Ensemble
from trainers.train.evaluate import Evaluation, evaluate_batches
from trainers.train.execution import Execution
from trainers.train.fused import fused_for_training, unfuse
from trainers.train.losses import LossParts, cotrain_loss, js_weight
from trainers.train.optim import make_optimizer, make_schedule


class StopTraining(Exception):
    """Raised by a callback to end training after the current epoch."""


@dataclass(frozen=True)
class EpochReport:
    epoch: int  # 1-based, completed epochs
    epochs: int
    train_loss: float
    js: float
    val: Evaluation
    elapsed_s: float
    final: bool = False  # training ends after this epoch (last of the recipe, or out of time)


TrainingCallback = Callable[[EpochReport], None]


@dataclass(frozen=True)
class StepReport:
    """Where training is inside an epoch, after each optimizer step. A callback that also has an
    `on_step(report)` method gets one per step (progress bars, a running trial's ETA): epochs of
    minutes to hours must not look hung."""

    epoch: int  # 1-based, the epoch under way
    epochs: int
    step: int  # steps done in this epoch
    steps: int  # steps per epoch
    images: int  # images trained in this epoch so far
    epoch_s: float  # since this epoch began
    elapsed_s: float  # since training began (earlier epochs' evaluations included)
    setup_s: float  # building the members and opening the feed, before training began


StepHook = Callable[[StepReport], None]
StoppedBy = Literal["completed", "time_limit", "callback"]


@dataclass
class TrainResult:
    ensemble: Ensemble
    val: Evaluation
    test: Evaluation | None
    history: list[EpochReport] = field(default_factory=list)
    train_seconds: float = 0.0
    images_per_s: float = 0.0
    stopped_by: StoppedBy = "completed"


class Peers:
    """How one training process works with the other processes of its data-parallel group
    (`trainers.train.distributed`). This base is a process alone: every hook leaves things as they are,
    so the single-process loop pays nothing for the hooks."""

    reporting = True  # evaluates, calls the callbacks and returns the result (rank 0)

    def shard(
        self, inputs: list[Tensor], targets: list[Tensor]
    ) -> tuple[list[Tensor], list[Tensor]]:
        """This process's part of the global batch."""
        return inputs, targets

    def after_backward(self, model: nn.Module) -> None:
        """Makes the gradients those of the global batch."""

    def agree(self, stop: bool) -> bool:
        """The reporting process's decision, so that every process leaves the loop together."""
        return stop

    def mean(self, loss: float, js: float) -> tuple[float, float]:
        """The epoch's training loss and JS over the global batch."""
        return loss, js


ALONE = Peers()


def build_ensemble(candidate: Candidate, seed: int) -> Ensemble:
    """Members initialised from seeds seed*1000 + i, so each member's init is reproducible."""
    members = []
    for i, spec in enumerate(divide(candidate)):
        torch.manual_seed(seed * 1000 + i)
        members.append(build_member(spec))
    return Ensemble(members, candidate.recipe.aggregation)


def resolve_device(device: str) -> torch.device:
    """`auto` -> cuda when there is one; a device this machine lacks is a ConfigError (one line)
    rather than a CUDA error in every trial."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device '{device}'; use cpu, cuda, cuda:N or auto") from None
    count = torch.cuda.device_count() if resolved.type == "cuda" else 0
    if resolved.type == "cuda" and (resolved.index or 0) >= count:
        raise ConfigError(
            f"device '{device}' does not exist; this machine has {count} CUDA device(s)"
        )
    return resolved


class CoTrainer:
    def __init__(
        self,
        candidate: Candidate,
        data: DataSource,
        seed: int = 0,
        device: str = "cpu",
        clock: Callable[[], float] = time.perf_counter,
        ensemble: Ensemble
        | None = None,  # warm members (trainers.train.imitation), else built here
        peers: Peers = ALONE,
    ):
        self.candidate, self.data, self.seed, self.clock = candidate, data, seed, clock
        begun = clock()
        self.peers = peers
        self.recipe = candidate.recipe
        self.device = resolve_device(device)
        self.generator = torch.Generator().manual_seed(seed)
        built = build_ensemble(candidate, seed) if ensemble is None else ensemble
        self.ensemble = built.to(self.device)
        self.execution = Execution(self.ensemble, self.recipe, self.device)
        # execution: fused trains one grouped network; the members get its weights before eval.
        self.fused = fused_for_training(candidate, list(self.ensemble.members))
        self.feed = open_feed(data, candidate, self.generator, self.device)
        wd = member_weight_decay(candidate)
        self.trained: nn.Module = self.ensemble if self.fused is None else self.fused
        self.optimizer = make_optimizer(self.trained, self.recipe, wd)
        self.steps_per_epoch = self.feed.steps_per_epoch
        self.schedule = make_schedule(self.optimizer, self.recipe, self.steps_per_epoch)
        use_amp = self.device.type == "cuda" and self.recipe.precision != "fp32"
        self.amp_dtype = torch.bfloat16 if self.recipe.precision == "bf16" else torch.float16
        self.use_amp = use_amp
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=use_amp and self.amp_dtype == torch.float16
        )
        self.setup_s = clock() - begun  # members, feed, optimizer: reported with the first step

    def fit(self, callbacks: Sequence[TrainingCallback] = ()) -> TrainResult:
        start = self.clock()
        history, seen, stopped_by = self._epochs(callbacks, start)
        seconds = self.clock() - start
        return TrainResult(
            self.ensemble, history[-1].val, self._evaluate_test(), history,
            train_seconds=seconds, images_per_s=seen / max(seconds, 1e-9), stopped_by=stopped_by,
        )  # fmt: skip

    def follow(self) -> None:
        """A non-reporting peer's run: the same steps as the reporting one, no evaluation."""
        self._epochs((), self.clock())

    def _epochs(
        self, callbacks: Sequence[TrainingCallback], start: float
    ) -> tuple[list[EpochReport], int, StoppedBy]:
        deadline = start + self.recipe.time_limit_s if self.recipe.time_limit_s else None
        history: list[EpochReport] = []
        seen = 0
        stopped_by: StoppedBy = "completed"
        hooks = (
            [c.on_step for c in callbacks if hasattr(c, "on_step")] if self.peers.reporting else []
        )
        for epoch in range(self.recipe.epochs):
            loss, js, count, out_of_time = self._train_epoch(epoch, deadline, hooks, start)
            loss, js = self.peers.mean(loss, js)
            seen += count
            if self.fused is not None:
                unfuse(self.fused, self.ensemble.members)
            called_off = False
            if self.peers.reporting:
                val = evaluate_batches(self.ensemble, self.feed.evaluation("val"))
                final = out_of_time or epoch + 1 == self.recipe.epochs
                report = EpochReport(
                    epoch + 1, self.recipe.epochs, loss, js, val, self.clock() - start, final
                )
                history.append(report)
                called_off = self._notify(callbacks, report)
            if self.peers.agree(called_off or out_of_time):
                stopped_by = "callback" if called_off else "time_limit"
                break
        return history, seen, stopped_by

    @staticmethod
    def _notify(callbacks: Sequence[TrainingCallback], report: EpochReport) -> bool:
        try:
            for callback in callbacks:
                callback(report)
        except StopTraining:
            return True
        return False

    def _train_epoch(
        self, epoch: int, deadline: float | None, hooks: Sequence[StepHook] = (), start: float = 0.0
    ) -> tuple[float, float, int, bool]:
        self.ensemble.train()
        batch = self.recipe.batch_size
        total_loss = total_js = 0.0
        steps = 0
        begun = self.clock() if hooks else 0.0  # no extra clock reads without hooks
        for step, batch_views in enumerate(self.feed.epoch()):
            inputs, targets = self.peers.shard(*batch_views)
            weight = 0.0
            if self.recipe.mode == "cotrain":
                progress = epoch + step / self.steps_per_epoch
                weight = js_weight(self.recipe.js_weight, progress, self.recipe.js_warmup_epochs)
            loss, js = self._step(inputs, targets, weight)
            total_loss, total_js, steps = total_loss + loss, total_js + js, steps + 1
            if hooks:
                self._report_step(hooks, epoch, steps, steps * batch, begun, start)
            if deadline is not None and self.peers.agree(self.clock() > deadline):
                return total_loss / steps, total_js / steps, steps * batch, True
        return total_loss / steps, total_js / steps, steps * batch, False

    def _report_step(
        self, hooks: Sequence[StepHook], epoch: int, steps: int, images: int, begun: float,
        start: float,
    ) -> None:  # fmt: skip
        now = self.clock()
        report = StepReport(epoch + 1, self.recipe.epochs, steps, self.steps_per_epoch, images,
                            now - begun, now - start, self.setup_s)  # fmt: skip
        for hook in hooks:
            hook(report)

    def _step(
        self, inputs: Sequence[Tensor], targets: Sequence[Tensor], weight: float
    ) -> tuple[float, float]:
        inputs = self.execution.prepare(inputs)
        try:
            parts = self._forward_backward(inputs, targets, weight)
        except Exception as exc:  # a torch.compile failure surfaces here, at the first step
            if not self.execution.fall_back(exc):
                raise
            parts = self._forward_backward(inputs, targets, weight)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.step()
        return float(parts.total.detach()), parts.js

    def _forward_backward(
        self, inputs: Sequence[Tensor], targets: Sequence[Tensor], weight: float
    ) -> LossParts:
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
            run = self.execution if self.fused is None else self.fused
            parts = cotrain_loss(run.member_logits(inputs), targets, weight)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(parts.total).backward()
        self.peers.after_backward(self.trained)
        return parts

    def _evaluate_test(self) -> Evaluation | None:
        if self.data.test is None:
            return None
        return evaluate_batches(self.ensemble, self.feed.evaluation("test"))

    def close(self) -> None:
        """Releases the feed (stops streaming loader processes)."""
        self.feed.close()


def train(
    candidate: Candidate,
    data: DataSource,
    *,
    seed: int = 0,
    device: str = "cpu",
    callbacks: Sequence[TrainingCallback] = (),
    clock: Callable[[], float] = time.perf_counter,
    ensemble: Ensemble | None = None,
) -> TrainResult:
    """Trains the candidate's S members on `data` as its recipe says; see the module docstring.
    `clock` measures the wall-clock limit and the reported times (tests inject their own);
    `ensemble` starts from given members instead of fresh ones."""
    torch.manual_seed(seed)
    trainer = CoTrainer(candidate, data, seed, device, clock, ensemble)
    try:
        return trainer.fit(callbacks)
    finally:
        trainer.close()
