"""Evaluation of an ensemble: ensemble top-1, each member's top-1, and the ensemble's NLL."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from trainers.ensemble import Ensemble, aggregate


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    member_accuracies: tuple[float, ...]
    loss: float
    count: int


@torch.no_grad()
def evaluate(
    ensemble: Ensemble, images: Tensor, labels: Tensor, batch_size: int = 512
) -> Evaluation:
    """`images` are model inputs (normalised floats) on any device; batches move to the model's."""
    device = next(ensemble.parameters()).device
    was_training = ensemble.training
    ensemble.eval()
    correct, member_correct, nll = 0, torch.zeros(len(ensemble)), 0.0
    for start in range(0, len(labels), batch_size):
        x = images[start : start + batch_size].to(device, non_blocking=True)
        y = labels[start : start + batch_size].to(device, non_blocking=True)
        logits = [z.float() for z in ensemble.member_logits(x)]
        scores = aggregate(logits, ensemble.aggregation)
        correct += int((scores.argmax(-1) == y).sum())
        member_correct += torch.tensor([float((z.argmax(-1) == y).sum()) for z in logits])
        nll += float(F.cross_entropy(scores, y, reduction="sum"))
    ensemble.train(was_training)
    n = max(len(labels), 1)
    return Evaluation(correct / n, tuple((member_correct / n).tolist()), nll / n, len(labels))
