"""DenseNet-BC (Huang et al.): bottleneck dense layers and transitions compressing by 0.5.

How the knobs map onto a candidate's integers:
- depth: 6n+4, three dense blocks of n layers (each a 1x1 and a 3x3 conv), the stem conv, two
  transitions and the classifier (DenseNet-BC-100: n = 16; DenseNet-BC-190: n = 31).
- width: the growth rate k; the stem has 2k channels and each bottleneck 4k.
- groups: 1.
Division (the paper): k_i = int(k / sqrt(S) * 2) // 2 (DenseNet-BC-190 k=40: 40, 28, 20); the
stem follows as 2 k_i. Transitions average-pool 2x2 in ceil mode, so odd and 1-pixel maps work.
With the ImageNet stem (7x7/2 conv to 2k channels and max-pool) the same three blocks follow; the
ImageNet DenseNets' four-block layout is not built.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from space.families.base import FAMILIES, Family
from space.families.layers import ClassifierHead, conv1x1, conv3x3, init_weights, stem
from space.member import MemberSpec

BOTTLENECK = 4
COMPRESSION = 0.5


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        inner = BOTTLENECK * growth
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True),
            conv1x1(cin, inner),
            nn.BatchNorm2d(inner),
            nn.ReLU(inplace=True),
            conv3x3(inner, growth),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.body(x)], dim=1)


def transition(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.BatchNorm2d(cin),
        nn.ReLU(inplace=True),
        conv1x1(cin, cout),
        nn.AvgPool2d(2, ceil_mode=True),
    )


class DenseNetBC(nn.Module):
    def __init__(self, spec: MemberSpec) -> None:
        super().__init__()
        layers_per_block = (spec.depth - 4) // 6
        growth = spec.width
        channels = 2 * growth
        self.stem = stem(spec.stem, spec.in_channels, channels, post_activation=False)
        body: list[nn.Module] = []
        for block in range(3):
            for _ in range(layers_per_block):
                body.append(DenseLayer(channels, growth))
                channels += growth
            if block < 2:
                compressed = math.floor(channels * COMPRESSION)
                body.append(transition(channels, compressed))
                channels = compressed
        body += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*body)
        self.head = ClassifierHead(channels, spec.num_classes, spec.dropout)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(self.stem(x)))


@FAMILIES.register("densenet_bc")
class DenseNetBCFamily(Family):
    depth_rule = "6n+4 with n >= 1 (10, 16, ..., 100, 190, 250)"
    smallest = (10, 2, 1)
    fusable = False  # its forward moves channels (see trainers.train.fused)

    def depth_ok(self, depth: int) -> bool:
        return depth >= 10 and (depth - 4) % 6 == 0

    def divide(self, width: int, groups: int, networks: int) -> tuple[int, int]:
        return max(1, int(width / math.sqrt(networks) * 2) // 2), groups

    def build(self, spec: MemberSpec) -> nn.Module:
        return DenseNetBC(spec)

    def label(self, depth: int, width: int, groups: int) -> str:
        return f"DenseNet-BC-{depth} k{width}"
