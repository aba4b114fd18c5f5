"""Optimiser and schedule of the paper's recipe: SGD Nesterov, linear warm-up, cosine decay.

Norm and bias parameters (every tensor of rank <= 1) get no weight decay; the others get the
candidate's divided weight decay.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from space.recipe import Recipe


def make_optimizer(model: nn.Module, recipe: Recipe, weight_decay: float) -> torch.optim.SGD:
    decayed = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    plain = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": plain, "weight_decay": 0.0},
    ]
    return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=True)


def make_schedule(
    optimizer: torch.optim.Optimizer, recipe: Recipe, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step factor: linear warm-up to lr, then cosine from lr to lr_min."""
    total = max(1, recipe.epochs * steps_per_epoch)
    warmup = min(total - 1, round(recipe.warmup_epochs * steps_per_epoch))
    floor = recipe.lr_min / recipe.lr

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
