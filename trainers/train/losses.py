"""The co-training objective of Divide and Co-training.

loss = sum_i CE(p_i, y) + lambda_t * JS(p_1..p_S), with the generalised Jensen-Shannon
divergence JS = H(mean_i p_i) - mean_i H(p_i), batch-averaged, no stop-gradient.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

JS_WEIGHT_FLOOR = 0.005


def js_divergence(logits: Sequence[Tensor]) -> Tensor:
    """Generalised JS divergence of the members' softmax outputs (computed in log space)."""
    log_probs = torch.stack([F.log_softmax(z.float(), dim=-1) for z in logits])  # S x B x C
    probs = log_probs.exp()
    mean_entropy = -(probs * log_probs).sum(-1).mean(0)
    log_mean = torch.logsumexp(log_probs, dim=0) - math.log(len(logits))
    entropy_of_mean = -(log_mean.exp() * log_mean).sum(-1)
    return (entropy_of_mean - mean_entropy).mean()


def js_weight(base: float, epoch: float, warmup_epochs: float) -> float:
    """The paper's linear warm-up: max(lambda * epoch / warmup, 0.005), then lambda."""
    if base == 0:
        return 0.0
    if warmup_epochs <= 0:
        return base
    return min(base, max(base * epoch / warmup_epochs, JS_WEIGHT_FLOOR))


@dataclass(frozen=True)
class LossParts:
    total: Tensor
    cross_entropy: float
    js: float


def cotrain_loss(logits: Sequence[Tensor], targets: Sequence[Tensor], weight: float) -> LossParts:
    """Sum of the members' cross-entropies, plus the JS term when `weight` > 0 and S > 1."""
    ce = sum(F.cross_entropy(z.float(), y) for z, y in zip(logits, targets, strict=True))
    if weight > 0 and len(logits) > 1:
        js = js_divergence(logits)
        return LossParts(ce + weight * js, float(ce.detach()), float(js.detach()))
    return LossParts(ce, float(ce.detach()), 0.0)
