"""Evaluation of an ensemble: ensemble top-1, each member's top-1, and the ensemble's NLL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from trainers.train.ensemble import Ensemble, aggregate


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    member_accuracies: tuple[float, ...]
    loss: float
    count: int


def evaluate(
    ensemble: Ensemble, images: Tensor, labels: Tensor, batch_size: int = 512
) -> Evaluation:
    """`images` are model inputs (normalised floats) on any device; batches move to the model's."""
    starts = range(0, len(labels), batch_size)
    return evaluate_batches(
        ensemble, ((images[s : s + batch_size], labels[s : s + batch_size]) for s in starts)
    )


@torch.no_grad()
def evaluate_batches(ensemble: Ensemble, batches: Iterable[tuple[Tensor, Tensor]]) -> Evaluation:
    """The same measures over (inputs, labels) batches, e.g. streamed from disk."""
    device = next(ensemble.parameters()).device
    was_training = ensemble.training
    ensemble.eval()
    correct, member_correct, nll, n = 0, torch.zeros(len(ensemble)), 0.0, 0
    for images, labels in batches:
        x = images.to(device, non_blocking=True)
        y = labels.to(device, non_blocking=True)
        logits = [z.float() for z in ensemble.member_logits(x)]
        scores = aggregate(logits, ensemble.aggregation)
        correct += int((scores.argmax(-1) == y).sum())
        member_correct += torch.tensor([float((z.argmax(-1) == y).sum()) for z in logits])
        nll += float(F.cross_entropy(scores, y, reduction="sum"))
        n += len(labels)
    ensemble.train(was_training)
    total = max(n, 1)
    return Evaluation(correct / total, tuple((member_correct / total).tolist()), nll / total, n)
