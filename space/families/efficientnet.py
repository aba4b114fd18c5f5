"""EfficientNet (Tan & Le): B0's MBConv stages scaled by a width and a depth multiplier.

Its own module rather than torchvision's builder, which hard-codes 3 input channels and a
stride-2 stem. How the knobs map onto a candidate's integers:
- width: the width multiplier in percent (100 = B0, 200 = B7). Channels are B0's times the
  multiplier, rounded to a multiple of 8 (never below 8 or 90% of the exact value).
- depth: the depth multiplier in percent (100 = B0, 310 = B7); each stage repeats
  ceil(repeats x multiplier) blocks.
- groups: 1. The image size is the search's own axis (B0 224 px ... B7 600 px).
B0-B7 are (width, depth) = (100, 100), (100, 110), (110, 120), (120, 140), (140, 180),
(160, 220), (180, 260), (200, 310).

Division: the width multiplier / sqrt(S), in whole percent; the channels are then rounded to
multiples of 8 as above. Stem: `imagenet` is EfficientNet's own 3x3 stride-2 conv, `cifar` the
same conv at stride 1. Stochastic depth rises linearly to 0.2 over the blocks (not divided);
the classifier dropout is the recipe's (divided by S like every family's).
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from space.families.base import FAMILIES, Family
from space.families.layers import ClassifierHead, SqueezeExcitation, init_weights
from space.member import MemberSpec

# B0: (expansion, kernel, stride, output channels, repeats) per stage.
B0_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
STOCHASTIC_DEPTH = 0.2
VARIANTS = {
    (100, 100): "B0", (100, 110): "B1", (110, 120): "B2", (120, 140): "B3",
    (140, 180): "B4", (160, 220): "B5", (180, 260): "B6", (200, 310): "B7",
}  # fmt: skip


def make_divisible(value: float, divisor: int = 8) -> int:
    """The usual EfficientNet/MobileNet channel rounding."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn_act(
    cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1
) -> nn.Sequential:
    conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.SiLU(inplace=True))


class MBConv(nn.Module):
    """Inverted residual: expand 1x1, depthwise kxk, squeeze-excitation, project 1x1."""

    def __init__(
        self, cin: int, cout: int, expansion: int, kernel: int, stride: int, drop: float
    ) -> None:
        super().__init__()
        hidden = cin * expansion
        layers: list[nn.Module] = [conv_bn_act(cin, hidden, 1)] if expansion != 1 else []
        layers += [
            conv_bn_act(hidden, hidden, kernel, stride, groups=hidden),
            SqueezeExcitation(hidden, max(1, cin // 4), nn.SiLU),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout
        # torchvision.ops pulls in torch._dynamo: as long to import as torch itself, so only
        # when a member is built (`space show` and the cost cache import the families)
        from torchvision.ops import StochasticDepth

        self.drop = StochasticDepth(drop, "row")

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(x)
        return x + self.drop(out) if self.residual else out


class EfficientNet(nn.Module):
    def __init__(self, spec: MemberSpec) -> None:
        super().__init__()
        width, depth = spec.width / 100, spec.depth / 100
        stages = [
            (e, k, s, make_divisible(c * width), math.ceil(r * depth))
            for e, k, s, c, r in B0_STAGES
        ]
        total = sum(r for *_, r in stages)
        cin = make_divisible(STEM_CHANNELS * width)
        self.stem = conv_bn_act(spec.in_channels, cin, 3, 2 if spec.stem == "imagenet" else 1)
        blocks, index = [], 0
        for expansion, kernel, stride, cout, repeats in stages:
            for i in range(repeats):
                drop = STOCHASTIC_DEPTH * index / total
                blocks.append(MBConv(cin, cout, expansion, kernel, stride if i == 0 else 1, drop))
                cin, index = cout, index + 1
        self.blocks = nn.Sequential(*blocks)
        head = make_divisible(HEAD_CHANNELS * width)
        self.final = conv_bn_act(cin, head, 1)
        self.head = ClassifierHead(head, spec.num_classes, spec.dropout)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.final(self.blocks(self.stem(x))))


@FAMILIES.register("efficientnet")
class EfficientNetFamily(Family):
    depth_rule = "the depth multiplier in percent, >= 10 (100 = B0, 310 = B7)"
    smallest = (10, 10, 1)

    def depth_ok(self, depth: int) -> bool:
        return depth >= 10

    def divide(self, width: int, groups: int, networks: int) -> tuple[int, int]:
        return max(1, round(width / math.sqrt(networks))), groups

    def build(self, spec: MemberSpec) -> nn.Module:
        return EfficientNet(spec)

    def label(self, depth: int, width: int, groups: int) -> str:
        variant = VARIANTS.get((width, depth))
        if variant:
            return f"EfficientNet-{variant}"
        return f"EfficientNet w{width / 100:.2f} d{depth / 100:.2f}"
