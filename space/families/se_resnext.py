"""SE-ResNeXt (Hu et al. on Xie et al.): the ImageNet-layout ResNeXt with squeeze-excitation.

Four stages with outputs 256, 512, 1024, 2048 after a 64-channel stem (meant for the ImageNet
stem; the CIFAR stem works too). Each grouped bottleneck gates its output channels with
squeeze-excitation (reduction 16) before the residual sum.

How the knobs map onto a candidate's integers (as in `resnext`):
- depth: 14, 26, 50, 101 or 152 (14: one block per stage, the cheap smoke-test size).
- width: the width per group d; groups: the cardinality C. Stage i's inner width is C x d x 2^i.
Division (the paper's ResNeXt rule): C -> C / S, d and the block outputs stay. Shortcut
projections, squeeze-excitation and the classifier are not divided, so every extra member adds
their parameters again (the paper: SE-ResNeXt-101 64x4d at S = 2 is 98.0 M parameters).
"""

from __future__ import annotations

from torch import Tensor, nn

from space.errors import ConfigError
from space.families.base import FAMILIES, Family
from space.families.layers import ClassifierHead, SqueezeExcitation, init_weights, stages, stem
from space.families.resnext import Bottleneck
from space.member import MemberSpec

STEM_CHANNELS = 64
STAGE_OUTPUTS = (256, 512, 1024, 2048)
LAYOUTS = {
    14: (1, 1, 1, 1),
    26: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
REDUCTION = 16


class SEBottleneck(Bottleneck):
    def __init__(self, cin: int, inner: int, cout: int, groups: int, stride: int) -> None:
        super().__init__(cin, inner, cout, groups, stride)
        self.se = SqueezeExcitation(cout, max(1, cout // REDUCTION))

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.se(self.bn3(self.conv3(out))) + self.shortcut(x))


class SEResNeXt(nn.Module):
    def __init__(self, spec: MemberSpec) -> None:
        super().__init__()
        self.stem = stem(spec.stem, spec.in_channels, STEM_CHANNELS, post_activation=True)

        def block(stage: int, cin: int, cout: int, stride: int) -> nn.Module:
            inner = spec.groups * spec.width * 2**stage
            return SEBottleneck(cin, inner, cout, spec.groups, stride)

        self.blocks, cin = stages(STEM_CHANNELS, STAGE_OUTPUTS, LAYOUTS[spec.depth], block)
        self.head = ClassifierHead(cin, spec.num_classes, spec.dropout)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)))


@FAMILIES.register("se_resnext")
class SEResNeXtFamily(Family):
    depth_rule = ", ".join(map(str, LAYOUTS))
    smallest = (14, 1, 2)

    def depth_ok(self, depth: int) -> bool:
        return depth in LAYOUTS

    def divide(self, width: int, groups: int, networks: int) -> tuple[int, int]:
        return width, max(1, groups // networks)

    def build(self, spec: MemberSpec) -> nn.Module:
        return SEResNeXt(spec)

    def label(self, depth: int, width: int, groups: int) -> str:
        return f"SE-ResNeXt-{depth} {groups}x{width}d"

    def check(self, name: str, depth: int, width: int, groups: int) -> None:
        if groups < 1:
            raise ConfigError(f"groups {groups} is not allowed for family '{name}'; must be >= 1")
        super().check(name, depth, width, 1)
