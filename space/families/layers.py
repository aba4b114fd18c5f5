"""Pieces shared by the families: the input stem and the classifier head."""

from __future__ import annotations

from torch import Tensor, nn

from space.member import Stem


def conv3x3(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


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
