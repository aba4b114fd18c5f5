"""CIFAR-style ResNeXt (Xie et al.): ResNeXt-29 CxWd, grouped bottleneck blocks, depth 9n+2.

`width` is the width per group (d) and `groups` the cardinality (C); division divides C by S
and keeps d and the block output widths (256, 512, 1024), as the paper does.
"""

from __future__ import annotations

from torch import Tensor, nn

from space.errors import ConfigError
from space.families.base import FAMILIES, Family
from space.families.layers import (
    ClassifierHead,
    conv1x1,
    conv3x3,
    init_weights,
    projection_shortcut,
    stages,
    stem,
)
from space.member import MemberSpec

STEM_CHANNELS = 64
STAGE_OUTPUTS = (256, 512, 1024)


class Bottleneck(nn.Module):
    def __init__(self, cin: int, inner: int, cout: int, groups: int, stride: int) -> None:
        super().__init__()
        self.conv1 = conv1x1(cin, inner)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = conv3x3(inner, inner, stride, groups)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv3 = conv1x1(inner, cout)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = projection_shortcut(cin, cout, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


class ResNeXt(nn.Module):
    def __init__(self, spec: MemberSpec) -> None:
        super().__init__()
        blocks_per_stage = (spec.depth - 2) // 9
        self.stem = stem(spec.stem, spec.in_channels, STEM_CHANNELS, post_activation=True)

        def block(stage: int, cin: int, cout: int, stride: int) -> nn.Module:
            inner = spec.groups * spec.width * 2**stage  # C x d, doubling with each stage
            return Bottleneck(cin, inner, cout, spec.groups, stride)

        self.blocks, cin = stages(STEM_CHANNELS, STAGE_OUTPUTS, blocks_per_stage, block)
        self.head = ClassifierHead(cin, spec.num_classes, spec.dropout)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)))


@FAMILIES.register("resnext")
class ResNeXtFamily(Family):
    depth_rule = "9n+2 with n >= 1 (11, 20, 29, 38, ...)"
    smallest = (11, 4, 4)

    def depth_ok(self, depth: int) -> bool:
        return depth >= 11 and (depth - 2) % 9 == 0

    def divide(self, width: int, groups: int, networks: int) -> tuple[int, int]:
        return width, max(1, groups // networks)

    def build(self, spec: MemberSpec) -> nn.Module:
        return ResNeXt(spec)

    def label(self, depth: int, width: int, groups: int) -> str:
        return f"ResNeXt-{depth} {groups}x{width}d"

    def check(self, name: str, depth: int, width: int, groups: int) -> None:
        if groups < 1:
            raise ConfigError(f"groups {groups} is not allowed for family '{name}'; must be >= 1")
        super().check(name, depth, width, 1)
