"""Go Wide, Then Narrow (Zhou et al., ICML 2020): thin members imitate a trained wide network.

Stage 2 of the recipe `init: wide_then_narrow`: every member learns, stage by stage from the
bottom up, to reproduce the wide teacher's intermediate outputs. A stage is a maximal run of the
family's feature layers (`Family.feature_layers`) with one output resolution: for the CIFAR
families the stem with the first stage, then each later stage (with the final norm). While stage
k imitates, the member's stages below k are frozen and stage k's output goes through a learned
1x1 convolution (thin -> wide channels) into a relative squared error against the teacher's
output of the same view. The maps are thrown away afterwards, so the members keep exactly the
scratch candidate's architecture. Stage 3 then co-trains (or trains independently) the warm
members for the recipe's remaining epochs, so member epochs equal the scratch recipe's.
No Optuna and no `searcher` here: the caller supplies the trained teacher.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from space.candidate import Candidate
from space.division import member_weight_decay
from space.errors import ConfigError
from space.families import family
from trainers.data.feed import open_feed
from trainers.data.source import DataSource
from trainers.train.cotrain import (
    EpochReport,
    TrainingCallback,
    TrainResult,
    build_ensemble,
    resolve_device,
    train,
)
from trainers.train.ensemble import Ensemble
from trainers.train.evaluate import evaluate_batches
from trainers.train.optim import make_optimizer

FEED_SEED_OFFSET = 7919  # stage 2 draws other augmentations than stage 3


def teacher_candidate(candidate: Candidate) -> Candidate:
    """The wide network the members imitate, trained with the scratch recipe: the undivided
    network for S > 1, the same network `teacher_width_factor` times wider for S = 1."""
    recipe = dataclasses.replace(
        candidate.recipe, init="scratch", imitation_epochs=1, teacher_width_factor=2
    )
    width = candidate.width
    if candidate.networks == 1:
        width *= candidate.recipe.teacher_width_factor
    return candidate.replace(networks=1, width=width, recipe=recipe)


@dataclass
class Imitation:
    """What stage 2 did: the relative imitation loss of each stage (mean over the second half of
    its steps), the validation reports after each imitation epoch and its wall time."""

    stage_losses: list[float]
    history: list[EpochReport] = field(default_factory=list)
    seconds: float = 0.0


def feature_stages(module: nn.Module, family_name: str, probe: Tensor) -> list[nn.Sequential]:
    """The module's feature layers grouped by output resolution, checked against its forward:
    the last layer's output inside `module(probe)` must equal the stages applied in turn."""
    layers = family(family_name).feature_layers(module)
    seen: list[Tensor] = []
    hook = layers[-1].register_forward_hook(lambda _m, _i, out: seen.append(out.detach()))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(probe)
            hook.remove()
            x, groups, sizes = probe, [], []
            for layer in layers:
                x = layer(x)
                if sizes and sizes[-1] == x.shape[-2:]:
                    groups[-1].append(layer)
                else:
                    groups.append([layer])
                    sizes.append(x.shape[-2:])
    finally:
        hook.remove()
        module.train(was_training)
    if len(seen) != 1 or not torch.allclose(seen[0], x, rtol=1e-4, atol=1e-5):
        raise ConfigError(
            f"family '{family_name}': its feature layers do not reproduce its forward"
        )
    return [nn.Sequential(*g) for g in groups]


def stage_channels(stages: Sequence[nn.Module], probe: Tensor) -> list[int]:
    with torch.no_grad():
        out, channels = probe, []
        for stage in stages:
            out = stage(out)
            channels.append(out.shape[1])
    return channels


class Imitator:
    """Stage 2 for all members of one ensemble against one teacher (see the module docstring)."""

    def __init__(self, candidate: Candidate, ensemble: Ensemble, teacher: nn.Module) -> None:
        device = next(ensemble.parameters()).device
        probe = torch.zeros(2, candidate.in_channels, candidate.image_size, candidate.image_size)
        probe = probe.to(device)
        name = teacher_candidate(candidate).family
        self.teacher = feature_stages(teacher.eval(), name, probe)
        self.members = [feature_stages(m, candidate.family, probe) for m in ensemble.members]
        wide = stage_channels(self.teacher, probe)
        self.maps = []  # per member, per stage: thin -> wide 1x1 convolutions (stage 2 only)
        for stages in self.members:
            if len(stages) != len(self.teacher):
                raise ConfigError("the members and their teacher have different stage counts")
            thin = stage_channels(stages, probe)
            self.maps.append(
                nn.ModuleList(
                    nn.Conv2d(c, w, 1).to(device) for c, w in zip(thin, wide, strict=True)
                )
            )

    @property
    def stage_count(self) -> int:
        return len(self.teacher)

    def loss(self, stage: int, inputs: Sequence[Tensor]) -> Tensor:
        """Sum over members of ||map(thin_k) - wide_k||^2 / ||wide_k||^2 on each member's view."""
        total = torch.zeros((), device=inputs[0].device)
        for stages, maps, x in zip(self.members, self.maps, inputs, strict=True):
            with torch.no_grad():
                target = x
                for wide in self.teacher[: stage + 1]:
                    target = wide(target)
                for frozen in stages[:stage]:
                    x = frozen(x)
            out = maps[stage](stages[stage](x))
            total = total + (out - target).pow(2).mean() / target.pow(2).mean().clamp_min(1e-8)
        return total

    def trainable(self, stage: int) -> nn.ModuleList:
        """What stage `stage` trains: that stage of every member and its maps."""
        return nn.ModuleList([s[stage] for s in self.members] + [m[stage] for m in self.maps])


def imitate(
    candidate: Candidate,
    ensemble: Ensemble,
    teacher: nn.Module,
    data: DataSource,
    seed: int,
    clock: Callable[[], float] = time.perf_counter,
) -> Imitation:
    """Stage 2: `imitation_epochs` epochs of the training data, split evenly over the stages,
    bottom up; each stage has its own SGD (the recipe's lr, cosine to zero, divided wd)."""
    start, recipe = clock(), candidate.recipe
    device = next(ensemble.parameters()).device
    imitator = Imitator(candidate, ensemble, teacher.to(device))
    generator = torch.Generator().manual_seed(seed + FEED_SEED_OFFSET)
    feed = open_feed(data, candidate, generator, device)
    total = recipe.imitation_epochs * feed.steps_per_epoch
    per_stage = max(1, math.ceil(total / imitator.stage_count))
    losses: list[list[float]] = [[] for _ in range(imitator.stage_count)]
    history: list[EpochReport] = []
    step, optimizer, schedule = 0, None, None
    ensemble.train()
    try:
        for epoch in range(recipe.imitation_epochs):
            for inputs, _ in feed.epoch():
                stage = min(step // per_stage, imitator.stage_count - 1)
                if step % per_stage == 0 and step // per_stage == stage:
                    trained = imitator.trainable(stage)
                    optimizer = make_optimizer(trained, recipe, member_weight_decay(candidate))
                    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, per_stage)
                loss = imitator.loss(stage, inputs)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                losses[stage].append(float(loss.detach()) / len(ensemble))
                step += 1
            val = evaluate_batches(ensemble, feed.evaluation("val"))
            recent = losses[stage][-5:]
            history.append(
                EpochReport(
                    epoch + 1, recipe.epochs, sum(recent) / len(recent), 0.0, val, clock() - start
                )
            )
    finally:
        feed.close()
    means = [sum(s[len(s) // 2 :]) / max(1, len(s) - len(s) // 2) for s in losses]
    return Imitation(means, history, clock() - start)


def shifted(callback: TrainingCallback, offset: int, epochs: int) -> TrainingCallback:
    """Stage 3 reports numbered as epochs of the whole recipe (offset by the imitation epochs)."""
    return lambda report: callback(
        dataclasses.replace(report, epoch=report.epoch + offset, epochs=epochs)
    )


def train_wide_then_narrow(
    candidate: Candidate,
    data: DataSource,
    teacher: nn.Module,
    *,
    seed: int = 0,
    device: str = "cpu",
    callbacks: Sequence[TrainingCallback] = (),
    observers: Sequence[TrainingCallback] = (),
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[TrainResult, Imitation]:
    """Stages 2 and 3 for a `wide_then_narrow` candidate, given its trained teacher module.
    `callbacks` (which may stop training) see stage 3 only, since the head is untrained until
    then; `observers` see every epoch. The history has all epochs and `train_seconds` both
    stages (the teacher's training is the caller's to count)."""
    recipe = candidate.recipe
    torch.manual_seed(seed)
    ensemble = build_ensemble(candidate, seed).to(resolve_device(device))
    imitation = imitate(candidate, ensemble, teacher, data, seed, clock)
    for report in imitation.history:
        for observer in observers:
            observer(report)
    rest = dataclasses.replace(
        recipe, epochs=recipe.epochs - recipe.imitation_epochs, init="scratch"
    )
    offset = recipe.imitation_epochs
    result = train(
        candidate.replace(recipe=rest), data, seed=seed, device=device, clock=clock,
        callbacks=[shifted(c, offset, recipe.epochs) for c in (*observers, *callbacks)],
        ensemble=ensemble,
    )  # fmt: skip
    history = imitation.history + [
        dataclasses.replace(r, epoch=r.epoch + offset, epochs=recipe.epochs) for r in result.history
    ]
    seconds = result.train_seconds + imitation.seconds
    return dataclasses.replace(result, history=history, train_seconds=seconds), imitation
