"""CIFAR-style Wide ResNet (Zagoruyko & Komodakis): WRN-d-k, pre-activation basic blocks."""

from __future__ import annotations

import math

from torch import Tensor, nn

from space.families.base import FAMILIES, Family
from space.families.layers import ClassifierHead, conv1x1, conv3x3, init_weights, stages, stem
from space.member import MemberSpec

STEM_CHANNELS = 16


class PreActBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = conv3x3(cout, cout)
        self.relu = nn.ReLU(inplace=True)
        needs_projection = stride != 1 or cin != cout
        self.shortcut = conv1x1(cin, cout, stride) if needs_projection else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(x))
        residual = x if self.shortcut is None else self.shortcut(out)
        out = self.conv2(self.relu(self.bn2(self.conv1(out))))
        return out + residual


class WideResNet(nn.Module):
    def __init__(self, spec: MemberSpec) -> None:
        super().__init__()
        blocks_per_stage = (spec.depth - 4) // 6
        widths = [16 * spec.width, 32 * spec.width, 64 * spec.width]
        self.stem = stem(spec.stem, spec.in_channels, STEM_CHANNELS, post_activation=False)
        self.blocks, cin = stages(
            STEM_CHANNELS,
            widths,
            blocks_per_stage,
            lambda _, cin, cout, stride: PreActBlock(cin, cout, stride),
        )
        self.final = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True))
        self.head = ClassifierHead(cin, spec.num_classes, spec.dropout)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.final(self.blocks(self.stem(x))))


@FAMILIES.register("wide_resnet")
class WideResNetFamily(Family):
    depth_rule = "6n+4 with n >= 1 (10, 16, 22, 28, 40, ...)"
    smallest = (10, 2, 1)

    def depth_ok(self, depth: int) -> bool:
        return depth >= 10 and (depth - 4) % 6 == 0

    def divide(self, width: int, groups: int, networks: int) -> tuple[int, int]:
        # The paper's rule: k_i = int(max(k / sqrt(S) + 0.4, 1)); the 16-channel stem stays.
        return int(max(width / math.sqrt(networks) + 0.4, 1)), groups

    def build(self, spec: MemberSpec) -> nn.Module:
        return WideResNet(spec)

    def label(self, depth: int, width: int, groups: int) -> str:
        return f"WRN-{depth}-{width}"
