"""ImageNet-layout ResNets (He et al.): ResNet-18/34 (basic blocks), 50/101/152 (bottlenecks).

A family of its own rather than a stem-dependent rule inside `resnet`: the CIFAR `resnet` family
is a different network (3 stages of basic blocks, depth 6n+2) and `depth_ok` cannot see the stem.
This one is the 4-stage network the paper divides on ImageNet; it builds with either stem.

How the knobs map onto a candidate's integers:
- depth: 10, 18, 34 (basic blocks) or 50, 101, 152 (bottlenecks, 4x expansion); 10 (one basic
  block per stage) is the cheap smoke-test size.
- width: the stem width w (64 in the standard networks); the stages have w, 2w, 4w, 8w channels
  (bottlenecks output 4x that).
- groups: 1.
Division (the paper): stem width 64 -> 44 -> 32 for S = 1, 2, 4; other widths round(w / sqrt(S)).
"""

from __future__ import annotations

import math
from typing import Literal

from torch import Tensor, nn

from space.families.base import FAMILIES, Family
from space.families.layers import ClassifierHead, init_weights, stages, stem
from space.families.resnet import BasicBlock
from space.families.resnext import Bottleneck
from space.member import MemberSpec

BlockKind = Literal["basic", "bottleneck"]
LAYOUTS: dict[int, tuple[BlockKind, tuple[int, int, int, int]]] = {
    10: ("basic", (1, 1, 1, 1)),
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
PAPER_STEM_WIDTHS = {64: {2: 44, 4: 32}}
EXPANSION = 4


class ImageNetResNet(nn.Module):
    def __init__(self, spec: MemberSpec) -> None:
        super().__init__()
        kind, counts = LAYOUTS[spec.depth]
        widths = [spec.width * 2**i for i in range(4)]
        self.stem = stem(spec.stem, spec.in_channels, spec.width, post_activation=True)
        if kind == "basic":
            outputs = widths

            def block(stage: int, cin: int, cout: int, stride: int) -> nn.Module:
                return BasicBlock(cin, cout, stride)
        else:
            outputs = [EXPANSION * w for w in widths]

            def block(stage: int, cin: int, cout: int, stride: int) -> nn.Module:
                return Bottleneck(cin, widths[stage], cout, 1, stride)

        self.blocks, cin = stages(spec.width, outputs, counts, block)
        self.head = ClassifierHead(cin, spec.num_classes, spec.dropout)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)))


@FAMILIES.register("resnet_imagenet")
class ImageNetResNetFamily(Family):
    depth_rule = ", ".join(map(str, LAYOUTS))
    smallest = (10, 8, 1)

    def depth_ok(self, depth: int) -> bool:
        return depth in LAYOUTS

    def divide(self, width: int, groups: int, networks: int) -> tuple[int, int]:
        paper = PAPER_STEM_WIDTHS.get(width, {}).get(networks)
        if paper is not None:
            return paper, groups
        return max(1, round(width / math.sqrt(networks))), groups

    def build(self, spec: MemberSpec) -> nn.Module:
        return ImageNetResNet(spec)

    def label(self, depth: int, width: int, groups: int) -> str:
        return f"ResNet-{depth} (4-stage) w{width}"
