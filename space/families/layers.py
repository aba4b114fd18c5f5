"""Pieces shared by the families: the input stem and the classifier head."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn

from space.member import Stem


def conv3x3(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


def projection_shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    """Identity when shapes match, else a strided 1x1 conv with batch norm (ResNet option B)."""
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))


Block = Callable[[int, int, int, int], nn.Module]  # (stage, cin, cout, stride) -> block


def stages(
    cin: int, outputs: Sequence[int], blocks_per_stage: int | Sequence[int], block: Block
) -> tuple[nn.Sequential, int]:
    """One stage per output width, the first block of each later stage halving the resolution
    (CIFAR: the same block count in every stage; ImageNet: e.g. 3, 4, 6, 3). Returns the blocks
    and their output channels."""
    counts = (
        [blocks_per_stage] * len(outputs) if isinstance(blocks_per_stage, int) else blocks_per_stage
    )
    layers = []
    for stage, (cout, count) in enumerate(zip(outputs, counts, strict=True)):
        for i in range(count):
            layers.append(block(stage, cin, cout, 2 if stage > 0 and i == 0 else 1))
            cin = cout
    return nn.Sequential(*layers), cin


def stem(kind: Stem, cin: int, cout: int, post_activation: bool) -> nn.Sequential:
    """CIFAR: one 3x3 conv at full resolution. ImageNet: 7x7/2 conv and 3x3/2 max-pool (x4 down).

    Pre-activation networks (WRN) normalise inside their first block, so their stem ends at the conv.
    """
    if kind == "cifar":
        layers: list[nn.Module] = [conv3x3(cin, cout)]
    else:
        layers = [nn.Conv2d(cin, cout, 7, stride=2, padding=3, bias=False)]
    if post_activation or kind == "imagenet":
        layers += [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    if kind == "imagenet":
        layers.append(nn.MaxPool2d(3, stride=2, padding=1))
    return nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al.): channel gates from globally pooled features, through
    1x1 convolutions on the pooled map (as torchvision's, so parameter counts match its models)."""

    def __init__(self, channels: int, squeezed: int, activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeezed, 1)
        self.act = activation()
        self.expand = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.expand(self.act(self.reduce(self.pool(x)))).sigmoid()


class ClassifierHead(nn.Module):
    """Global average pooling (so any input size >= 8 works), dropout, linear."""

    def __init__(self, channels: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.dropout(self.pool(x).flatten(1)))


def init_weights(model: nn.Module) -> None:
    """He init for convs, unit BN, zero-bias linear: the usual CIFAR ResNet initialisation."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
