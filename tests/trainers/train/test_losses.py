from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from trainers.train.losses import cotrain_loss, js_divergence, js_weight


def direct_js(logits: list[torch.Tensor]) -> float:
    """H(mean p) - mean H(p), written out plainly from probabilities, batch-averaged."""
    probs = [F.softmax(z.double(), -1) for z in logits]
    mean = sum(probs) / len(probs)

    def entropy(p: torch.Tensor) -> torch.Tensor:
        return -(p * p.log()).sum(-1)

    return float((entropy(mean) - sum(entropy(p) for p in probs) / len(probs)).mean())


def test_js_is_zero_for_identical_members() -> None:
    z = torch.randn(8, 5)
    assert float(js_divergence([z, z.clone(), z.clone()])) == pytest.approx(0.0, abs=1e-6)


def test_js_matches_the_direct_formula_and_is_positive() -> None:
    torch.manual_seed(0)
    logits = [torch.randn(16, 10) * 3 for _ in range(4)]
    value = float(js_divergence(logits))
    assert value > 0.01
    assert value == pytest.approx(direct_js(logits), rel=1e-5)
    assert value <= math.log(4) + 1e-6  # the generalised JS is bounded by log S


def test_js_weight_warms_up_linearly_from_the_floor() -> None:
    assert js_weight(0.5, 0, 40) == 0.005
    assert js_weight(0.5, 20, 40) == pytest.approx(0.25)
    assert js_weight(0.5, 80, 40) == 0.5
    assert js_weight(0.0, 10, 40) == 0.0


def test_cotrain_loss_adds_the_js_term_only_when_weighted() -> None:
    torch.manual_seed(0)
    logits = [torch.randn(8, 3, requires_grad=True) for _ in range(2)]
    targets = [torch.randint(0, 3, (8,))] * 2
    plain = cotrain_loss(logits, targets, weight=0.0)
    weighted = cotrain_loss(logits, targets, weight=0.5)
    ce = sum(float(F.cross_entropy(z.detach(), y)) for z, y in zip(logits, targets, strict=True))
    assert float(plain.total.detach()) == pytest.approx(ce)
    assert plain.js == 0.0
    assert float(weighted.total.detach()) == pytest.approx(ce + 0.5 * weighted.js)
    weighted.total.backward()
    assert all(z.grad is not None for z in logits)
