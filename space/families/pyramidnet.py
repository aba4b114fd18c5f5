"""PyramidNet (Han et al.), bottleneck version, with optional ShakeDrop (Yamada et al.).

How the knobs map onto a candidate's integers:
- depth: 9n+2, three stages of n bottleneck blocks (PyramidNet-272: n = 30).
- width: the add-rate alpha. Block l of N = 3n has round(16 + alpha * l / N) inner channels and
  4x that many outputs, so the width grows a little in every block instead of doubling per stage.
- groups: 1.
Two keys: `pyramidnet` (no ShakeDrop) and `pyramidnet_shakedrop` (ShakeDrop with the usual final
drop probability p_L = 0.5, block l dropping with p_L * l / N). p_L is a documented default rather
than a candidate field, so stored candidates and their ids are unchanged.

Division (the paper): alpha -> round(alpha / sqrt(S)) and p_L -> p_L / sqrt(S) (the member reads S
from `MemberSpec.divided_by`). The 16-channel base is not divided, as in the paper's code, so a
divided PyramidNet costs more than the undivided one: the paper reports 26.8 / 28.9 / 32.8 M
parameters and 4.55 / 5.24 / 6.33 GFLOPs for PyramidNet-272 at S = 1, 2, 4.

Shortcuts are identities, zero-padded to the wider output and average-pooled (2x2, ceil mode, so
odd and 1-pixel maps work) where a block halves the resolution: PyramidNet has no projections.
With the ImageNet stem (7x7/2 conv and max-pool) the same three stages follow the 16-channel stem.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from space.families.base import FAMILIES, Family
from space.families.layers import ClassifierHead, conv1x1, conv3x3, init_weights, stem
from space.member import MemberSpec

BASE_CHANNELS = 16
EXPANSION = 4
FINAL_DROP = 0.5  # ShakeDrop's p_L for PyramidNet-272 (Yamada et al.), divided by sqrt(S)


class _ShakeDropFunction(torch.autograd.Function):
    """Forward scales each sample by b + alpha (1 - b), backward by b + beta (1 - b)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, gate: Tensor, alpha: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(gate)
        return x * (gate + alpha * (1 - gate))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        (gate,) = ctx.saved_tensors
        beta = torch.rand_like(gate)
        return grad * (gate + beta * (1 - gate)), None, None


class ShakeDrop(nn.Module):
    """Per sample: kept with probability 1 - p, else scaled by alpha ~ U(-1, 1) forward and
    beta ~ U(0, 1) backward. Evaluation multiplies by the expectation 1 - p (a plain Mul in ONNX)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x * (1.0 - self.p)
        shape = (x.shape[0], 1, 1, 1)
        gate = torch.empty(shape, device=x.device, dtype=x.dtype).bernoulli_(1.0 - self.p)
        alpha = torch.empty(shape, device=x.device, dtype=x.dtype).uniform_(-1.0, 1.0)
        return _ShakeDropFunction.apply(x, gate, alpha)


class PyramidBottleneck(nn.Module):
    def __init__(self, cin: int, inner: int, stride: int, drop: float) -> None:
        super().__init__()
        cout = EXPANSION * inner
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin),
            conv1x1(cin, inner),
            nn.BatchNorm2d(inner),
            nn.ReLU(inplace=True),
            conv3x3(inner, inner, stride),
            nn.BatchNorm2d(inner),
            nn.ReLU(inplace=True),
            conv1x1(inner, cout),
            nn.BatchNorm2d(cout),
        )
        self.shake = ShakeDrop(drop) if drop > 0 else nn.Identity()
        self.pool = nn.AvgPool2d(2, ceil_mode=True) if stride == 2 else nn.Identity()
        self.extra_channels = cout - cin

    def forward(self, x: Tensor) -> Tensor:
        shortcut = F.pad(self.pool(x), (0, 0, 0, 0, 0, self.extra_channels))
        return self.shake(self.body(x)) + shortcut


class PyramidNet(nn.Module):
    def __init__(self, spec: MemberSpec, final_drop: float) -> None:
        super().__init__()
        per_stage = (spec.depth - 2) // 9
        total = 3 * per_stage
        layers = list(stem(spec.stem, spec.in_channels, BASE_CHANNELS, post_activation=False))
        if spec.stem == "cifar":
            layers.append(nn.BatchNorm2d(BASE_CHANNELS))  # the first block starts with BN, no ReLU
        self.stem = nn.Sequential(*layers)
        blocks, cin = [], BASE_CHANNELS
        for index in range(1, total + 1):
            inner = round(BASE_CHANNELS + spec.width * index / total)
            stride = 2 if index > 1 and (index - 1) % per_stage == 0 else 1
            blocks.append(PyramidBottleneck(cin, inner, stride, final_drop * index / total))
            cin = EXPANSION * inner
        self.blocks = nn.Sequential(*blocks)
        self.final = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True))
        self.head = ClassifierHead(cin, spec.num_classes, spec.dropout)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.final(self.blocks(self.stem(x))))


@FAMILIES.register("pyramidnet")
class PyramidNetFamily(Family):
    depth_rule = "9n+2 with n >= 1 (11, 20, ..., 110, 164, 272)"
    smallest = (11, 4, 1)
    fusable = False  # its forward moves channels (see trainers.train.fused)
    final_drop = 0.0

    def depth_ok(self, depth: int) -> bool:
        return depth >= 11 and (depth - 2) % 9 == 0

    def divide(self, width: int, groups: int, networks: int) -> tuple[int, int]:
        return max(1, round(width / math.sqrt(networks))), groups

    def build(self, spec: MemberSpec) -> nn.Module:
        return PyramidNet(spec, self.final_drop / math.sqrt(spec.divided_by))

    def label(self, depth: int, width: int, groups: int) -> str:
        return f"PyramidNet-{depth} alpha{width}"


@FAMILIES.register("pyramidnet_shakedrop")
class PyramidNetShakeDropFamily(PyramidNetFamily):
    final_drop = FINAL_DROP

    def label(self, depth: int, width: int, groups: int) -> str:
        return f"{super().label(depth, width, groups)} ShakeDrop"
