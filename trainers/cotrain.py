"""Co-training S members on different views of each batch (Zhao et al.), and its baseline.

Modes (the candidate's recipe): `cotrain` gives every member its own augmentation of the same
images in the same order and adds the JS co-training term; `independent` gives every member its
own seed, its own order and no co-training term (the Kondratyuk & Tan ensemble baseline).
Intermediate validation accuracy reaches the caller through callbacks; a callback raising
`StopTraining` ends the run early, which is how the searcher prunes without this module
knowing about Optuna.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from space.candidate import Candidate
from space.division import divide, member_weight_decay
from space.families import build_member
from trainers.augment import views
from trainers.data.source import DataSource
from trainers.ensemble import Ensemble
from trainers.evaluate import Evaluation, evaluate
from trainers.losses import cotrain_loss, js_weight
from trainers.optim import make_optimizer, make_schedule


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


TrainingCallback = Callable[[EpochReport], None]


@dataclass
class TrainResult:
    ensemble: Ensemble
    val: Evaluation
    test: Evaluation | None
    history: list[EpochReport] = field(default_factory=list)
    train_seconds: float = 0.0
    images_per_s: float = 0.0
    stopped_by: Literal["completed", "time_limit", "callback"] = "completed"


def build_ensemble(candidate: Candidate, seed: int) -> Ensemble:
    """Members initialised from seeds seed*1000 + i, so each member's init is reproducible."""
    members = []
    for i, spec in enumerate(divide(candidate)):
        torch.manual_seed(seed * 1000 + i)
        members.append(build_member(spec))
    return Ensemble(members, candidate.recipe.aggregation)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class CoTrainer:
    def __init__(self, candidate: Candidate, data: DataSource, seed: int = 0, device: str = "cpu"):
        self.candidate, self.data, self.seed = candidate, data, seed
        self.recipe = candidate.recipe
        self.device = resolve_device(device)
        self.generator = torch.Generator().manual_seed(seed)
        self.ensemble = build_ensemble(candidate, seed).to(self.device)
        size = candidate.image_size
        self.train_images, self.train_labels = data.train.resized(size), data.train.labels
        self.val_inputs = data.normalise(data.val.resized(size))
        wd = member_weight_decay(candidate)
        self.optimizer = make_optimizer(self.ensemble, self.recipe, wd)
        self.steps_per_epoch = max(1, len(self.train_labels) // self.recipe.batch_size)
        self.schedule = make_schedule(self.optimizer, self.recipe, self.steps_per_epoch)
        use_amp = self.device.type == "cuda" and self.recipe.precision != "fp32"
        self.amp_dtype = torch.bfloat16 if self.recipe.precision == "bf16" else torch.float16
        self.use_amp = use_amp
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=use_amp and self.amp_dtype == torch.float16
        )

    def fit(self, callbacks: Sequence[TrainingCallback] = ()) -> TrainResult:
        start = time.perf_counter()
        deadline = start + self.recipe.time_limit_s if self.recipe.time_limit_s else None
        history: list[EpochReport] = []
        seen, stopped_by = 0, "completed"
        for epoch in range(self.recipe.epochs):
            loss, js, count, out_of_time = self._train_epoch(epoch, deadline)
            seen += count
            val = evaluate(self.ensemble, self.val_inputs, self.data.val.labels)
            report = EpochReport(
                epoch + 1, self.recipe.epochs, loss, js, val, time.perf_counter() - start
            )
            history.append(report)
            if self._notify(callbacks, report):
                stopped_by = "callback"
                break
            if out_of_time:
                stopped_by = "time_limit"
                break
        seconds = time.perf_counter() - start
        return TrainResult(
            self.ensemble, history[-1].val, self._evaluate_test(), history,
            train_seconds=seconds, images_per_s=seen / max(seconds, 1e-9), stopped_by=stopped_by,
        )  # fmt: skip

    @staticmethod
    def _notify(callbacks: Sequence[TrainingCallback], report: EpochReport) -> bool:
        try:
            for callback in callbacks:
                callback(report)
        except StopTraining:
            return True
        return False

    def _member_orders(self) -> list[Tensor]:
        """One shuffled order shared by all members (cotrain) or one per member (independent)."""
        n = len(self.train_labels)
        shared = self.recipe.mode == "cotrain"
        count = 1 if shared else self.candidate.networks
        orders = [torch.randperm(n, generator=self.generator) for _ in range(count)]
        return orders * self.candidate.networks if shared else orders

    def _train_epoch(self, epoch: int, deadline: float | None) -> tuple[float, float, int, bool]:
        self.ensemble.train()
        orders, batch = self._member_orders(), self.recipe.batch_size
        total_loss = total_js = 0.0
        steps = 0
        for step in range(self.steps_per_epoch):
            index = [order[step * batch : (step + 1) * batch] for order in orders]
            weight = 0.0
            if self.recipe.mode == "cotrain":
                progress = epoch + step / self.steps_per_epoch
                weight = js_weight(self.recipe.js_weight, progress, self.recipe.js_warmup_epochs)
            loss, js = self._step(index, weight)
            total_loss, total_js, steps = total_loss + loss, total_js + js, steps + 1
            if deadline is not None and time.perf_counter() > deadline:
                return total_loss / steps, total_js / steps, steps * batch, True
        return total_loss / steps, total_js / steps, steps * batch, False

    def _step(self, index: Sequence[Tensor], weight: float) -> tuple[float, float]:
        policy, device = self.recipe.augmentation, self.device
        if self.recipe.mode == "cotrain":  # same images, one independent view per member
            inputs = views(self.train_images[index[0]], len(index), policy, self.generator)
        else:
            inputs = [views(self.train_images[i], 1, policy, self.generator)[0] for i in index]
        inputs = [self.data.normalise(x.to(device, non_blocking=True)) for x in inputs]
        targets = [self.train_labels[i].to(device, non_blocking=True) for i in index]
        with torch.autocast(device.type, dtype=self.amp_dtype, enabled=self.use_amp):
            parts = cotrain_loss(self.ensemble.member_logits(inputs), targets, weight)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(parts.total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.step()
        return float(parts.total.detach()), parts.js

    def _evaluate_test(self) -> Evaluation | None:
        test = self.data.test
        if test is None:
            return None
        inputs = self.data.normalise(test.resized(self.candidate.image_size))
        return evaluate(self.ensemble, inputs, test.labels)


def train(
    candidate: Candidate,
    data: DataSource,
    *,
    seed: int = 0,
    device: str = "cpu",
    callbacks: Sequence[TrainingCallback] = (),
) -> TrainResult:
    """Trains the candidate's S members on `data` as its recipe says; see the module docstring."""
    torch.manual_seed(seed)
    return CoTrainer(candidate, data, seed, device).fit(callbacks)
