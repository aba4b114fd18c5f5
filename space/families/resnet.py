"""CIFAR-style plain ResNet (He et al.): post-activation basic blocks, depth 6n+2."""

from __future__ import annotations

import math

from torch import Tensor, nn

from space.families.base import FAMILIES, Family
from space.families.layers import (
    ClassifierHead,
    conv3x3,
    init_weights,
    projection_shortcut,
    stages,
    stem,
)
from space.member import MemberSpec

# The paper's stem widths for S = 1, 2, 4 (CIFAR 16 -> 12 -> 8; ImageNet 64 -> 44 -> 32).
PAPER_STEM_WIDTHS = {16: {2: 12, 4: 8}, 64: {2: 44, 4: 32}}


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = projection_shortcut(cin, cout, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, spec: MemberSpec) -> None:
        super().__init__()
        blocks_per_stage = (spec.depth - 2) // 6
        widths = [spec.width, 2 * spec.width, 4 * spec.width]
        self.stem = stem(spec.stem, spec.in_channels, spec.width, post_activation=True)
        self.blocks, cin = stages(
            spec.width,
            widths,
            blocks_per_stage,
            lambda _, cin, cout, stride: BasicBlock(cin, cout, stride),
        )
        self.head = ClassifierHead(cin, spec.num_classes, spec.dropout)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)))


@FAMILIES.register("resnet")
class ResNetFamily(Family):
    depth_rule = "6n+2 with n >= 1 (8, 14, 20, 32, 56, 110, ...)"
    smallest = (8, 8, 1)

    def depth_ok(self, depth: int) -> bool:
        return depth >= 8 and (depth - 2) % 6 == 0

    def divide(self, width: int, groups: int, networks: int) -> tuple[int, int]:
        paper = PAPER_STEM_WIDTHS.get(width, {}).get(networks)
        if paper is not None:
            return paper, groups
        return max(1, round(width / math.sqrt(networks))), groups

    def build(self, spec: MemberSpec) -> nn.Module:
        return ResNet(spec)

    def label(self, depth: int, width: int, groups: int) -> str:
        return f"ResNet-{depth} w{width}"
