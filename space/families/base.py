"""What an architecture family provides, and the registry families add themselves to."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import nn

from space.errors import ConfigError
from space.member import MemberSpec
from space.registry import Registry


class Family(ABC):
    """Stateless description of one architecture family.

    `width` is the family's width knob of the undivided network (WRN's k, ResNet's stem width,
    ResNeXt's width per group); `groups` is the number of convolution groups (ResNeXt's
    cardinality, 1 elsewhere). Division turns (width, groups) of the undivided network into the
    members' (width, groups).
    """

    depth_rule: str = ""
    # The cheapest (depth, width, groups) the family allows: what tests and smoke runs build.
    smallest: tuple[int, int, int]
    # Whether the S members can run as one grouped network (trainers.train.fused): False for forwards
    # that move channels across members (torch.cat of feature maps, zero-padded channels).
    fusable: bool = True
    # Whether members can imitate a wide teacher layer by layer (recipe init wide_then_narrow):
    # False where `feature_layers` cannot split the forward.
    imitable: bool = True

    @abstractmethod
    def depth_ok(self, depth: int) -> bool: ...

    @abstractmethod
    def divide(self, width: int, groups: int, networks: int) -> tuple[int, int]:
        """(width, groups) of each of `networks` members of the (width, groups) network."""

    @abstractmethod
    def build(self, spec: MemberSpec) -> nn.Module: ...

    @abstractmethod
    def label(self, depth: int, width: int, groups: int) -> str:
        """The name people use, e.g. WRN-16-8 or ResNeXt-29 8x64d."""

    def feature_layers(self, module: nn.Module) -> list[nn.Module]:
        """The modules that compute the features, in forward order: applied one after another
        they give the classifier head's input (trainers.train.imitation groups them into resolution
        stages and checks the split against the module's own forward). Generic default: the
        `stem`, each child of `blocks` (or `body`) and `final`, as the builders name them."""
        named = dict(module.named_children())
        body = named.get("blocks", named.get("body"))
        if "stem" not in named or body is None:
            raise ConfigError(f"{type(module).__name__} has no stem/blocks to imitate")
        final = [named["final"]] if "final" in named else []
        return [named["stem"], *body.children(), *final]

    def check(self, name: str, depth: int, width: int, groups: int) -> None:
        if not self.depth_ok(depth):
            raise ConfigError(
                f"depth {depth} is not allowed for family '{name}'; allowed: {self.depth_rule}"
            )
        if width < 1:
            raise ConfigError(f"width {width} is not allowed; width must be >= 1")
        if groups != 1:
            raise ConfigError(f"groups {groups} is not allowed for family '{name}'; allowed: 1")


FAMILIES: Registry[type[Family]] = Registry("family")


def family(name: str) -> Family:
    return FAMILIES.get(name)()


def build_member(spec: MemberSpec) -> nn.Module:
    return family(spec.family).build(spec)
