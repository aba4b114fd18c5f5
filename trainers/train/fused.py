"""Fused members: the S members of a homogeneous divided ensemble as one network.

Member i owns the i-th block of channels of every feature map (member-major layout). Every
convolution becomes a grouped convolution with S times the groups, the convolution that reads
the shared image gets S times the outputs (on S stacked views, one per member, it runs grouped),
norm layers concatenate their per-channel parameters, and the S classifiers become one grouped
linear layer. Elementwise functional code in the members' `forward` (residual sums, gates,
flatten after global pooling) keeps that layout, so the members' own forward runs unchanged on a
structural copy whose leaves are swapped: nothing here knows a family.

A forward that moves channels across members (torch.cat of feature maps, zero-padding channels)
breaks the layout. `fuse` therefore checks the fused outputs against the members' on a probe
input and raises `NotFusableError` on any mismatch; families known to do this say so with
`Family.fusable = False` so callers skip them without trying.

Every fused parameter and buffer is the members' tensors concatenated along dim 0, so `fuse` and
`unfuse` are exact copies in both directions. Inference and the training loss are the members'
exactly; only layers that draw one random number per sample (stochastic depth, ShakeDrop) draw
it once for all members when fused, where the loop draws it per member.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from space.candidate import Candidate
from space.errors import ConfigError
from space.families import family
from space.recipe import Aggregation
from trainers.train.ensemble import aggregate

log = logging.getLogger(__name__)
PROBE_TOLERANCE = 1e-3  # relative to the largest logit; a broken layout is off by O(1)


class NotFusableError(ConfigError):
    """The members cannot run as one grouped network; they keep the per-member path."""


def fusable(candidate: Candidate) -> bool:
    """Homogeneous candidates of families that declare themselves fusable."""
    return not candidate.members and family(candidate.family).fusable


def probe_input(candidate: Candidate, device: torch.device | str = "cpu") -> Tensor:
    """A fixed random batch to check a fusion on. Its own generator: the global RNG, which
    training draws dropout from, is left untouched."""
    generator = torch.Generator().manual_seed(0)
    shape = (2, candidate.in_channels, candidate.image_size, candidate.image_size)
    return torch.randn(shape, generator=generator).to(device)


def fused_for_training(candidate: Candidate, members: Sequence[nn.Module]) -> FusedEnsemble | None:
    """What trains when the recipe says `execution: fused`: None for the loop, and (with one
    warning line) for candidates that do not fuse, which train as a loop."""
    if candidate.recipe.execution != "fused":
        return None
    reason = "heterogeneous, or its family does not fuse"
    if fusable(candidate):
        device = next(members[0].parameters()).device
        try:
            return fuse(members, probe_input(candidate, device), candidate.recipe.aggregation)
        except NotFusableError as exc:
            reason = str(exc)
    log.warning("execution: fused is not possible for %s (%s); training as a loop",
                candidate.label, reason)  # fmt: skip
    return None


class SharedInputConv(nn.Conv2d):
    """The convolution reading the image: S x the outputs on the shared image, or grouped by
    member on S stacked views (the same weights either way)."""

    networks: int

    def forward(self, x: Tensor) -> Tensor:
        groups = 1 if x.shape[1] == self.in_channels else self.networks
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, groups)


class GroupedLinear(nn.Module):
    """S linear layers on the S channel blocks of the input: a block-diagonal layer without its
    zero blocks (which training would otherwise fill). Weight is the members' stacked: S*out x in."""

    def __init__(self, networks: int, in_features: int, out_features: int, bias: bool) -> None:
        super().__init__()
        self.networks, self.in_features, self.out_features = networks, in_features, out_features
        self.weight = nn.Parameter(torch.empty(networks * out_features, in_features))
        self.bias = nn.Parameter(torch.empty(networks * out_features)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(-1, x.shape[-1], 1)
        out = F.conv1d(flat, self.weight.unsqueeze(-1), self.bias, groups=self.networks)
        return out.reshape(*x.shape[:-1], self.networks * self.out_features)


def _fused_leaf(leaf: nn.Module, networks: int, shared_input: bool) -> nn.Module:
    """An empty module of the fused shape; `fuse` copies the members' tensors into it."""
    s = networks
    if type(leaf) is nn.Conv2d:
        shared = shared_input and leaf.groups == 1 and leaf.padding_mode == "zeros"
        conv = nn.Conv2d(
            leaf.in_channels * (1 if shared else s), leaf.out_channels * s, leaf.kernel_size,
            leaf.stride, leaf.padding, leaf.dilation, leaf.groups * (1 if shared else s),
            leaf.bias is not None, leaf.padding_mode,
        )  # fmt: skip
        if shared:
            conv.__class__ = SharedInputConv
            conv.networks = s
        return conv
    if type(leaf) is nn.BatchNorm2d:
        return nn.BatchNorm2d(
            leaf.num_features * s, leaf.eps, leaf.momentum, leaf.affine, leaf.track_running_stats
        )
    if type(leaf) is nn.GroupNorm:
        return nn.GroupNorm(leaf.num_groups * s, leaf.num_channels * s, leaf.eps, leaf.affine)
    if type(leaf) is nn.Linear:
        return GroupedLinear(s, leaf.in_features, leaf.out_features, leaf.bias is not None)
    raise NotFusableError(f"cannot fuse a {type(leaf).__name__} layer")


@contextlib.contextmanager
def _evaluating(modules: Sequence[nn.Module]) -> Iterator[None]:
    """Eval mode and no grad for probing (BN running statistics must not move), then restored."""
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.train(mode)


def _input_consumers(member: nn.Module, example: Tensor) -> set[str]:
    """Names of the leaves that read the image itself (found by running the member once)."""
    consumers: set[str] = set()
    hooks = [
        module.register_forward_pre_hook(
            lambda _, args, name=name: consumers.add(name) if args and args[0] is example else None
        )
        for name, module in member.named_modules()
        if not list(module.children())
    ]
    try:
        with _evaluating([member]):
            member(example)
    finally:
        for hook in hooks:
            hook.remove()
    return consumers


class FusedEnsemble(nn.Module):
    """The S members as one module: `member_logits` as `Ensemble`'s, `forward` aggregated."""

    def __init__(
        self, body: nn.Module, networks: int, in_channels: int, repeat_input: bool,
        aggregation: Aggregation,
    ) -> None:  # fmt: skip
        super().__init__()
        self.body, self.networks, self.in_channels = body, networks, in_channels
        self.repeat_input = repeat_input
        self.aggregation: Aggregation = aggregation

    def __len__(self) -> int:
        return self.networks

    def member_logits(self, x: Tensor | Sequence[Tensor]) -> list[Tensor]:
        """Each member's logits; `x` is one batch for all or one batch (view) per member."""
        if not isinstance(x, Tensor):
            x = torch.cat(list(x), dim=1)  # member i's view is channel block i
        elif self.repeat_input and self.networks > 1:
            x = x.repeat(1, self.networks, *([1] * (x.dim() - 2)))
        out = self.body(x)
        return list(out.unflatten(-1, (self.networks, -1)).unbind(-2))

    def forward(self, x: Tensor) -> Tensor:
        return aggregate(self.member_logits(x), self.aggregation)


def _check_same_structure(members: Sequence[nn.Module]) -> None:
    shapes = [{k: tuple(v.shape) for k, v in m.state_dict().items()} for m in members]
    kinds = [[type(mod) for mod in m.modules()] for m in members]
    if any(s != shapes[0] for s in shapes) or any(k != kinds[0] for k in kinds):
        raise NotFusableError("members differ in structure (a heterogeneous ensemble)")


def fuse(
    members: Sequence[nn.Module], example: Tensor, aggregation: Aggregation = "mean_logits"
) -> FusedEnsemble:
    """One module computing all members, weights copied exactly; `example` is an input batch
    (N x C x H x W on the members' device) that the fused outputs are checked on."""
    _check_same_structure(members)
    s = len(members)
    consumers = _input_consumers(members[0], example)
    modules = dict(members[0].named_modules())
    shared = bool(consumers) and all(
        type(modules[n]) is nn.Conv2d and modules[n].groups == 1 for n in consumers
    )
    body = copy.deepcopy(members[0])
    for name, module in list(body.named_modules()):
        if not _owns_tensors(module):
            continue  # activations, pooling, dropout, containers: work on S x the channels
        if list(module.children()):
            raise NotFusableError(f"cannot fuse {type(module).__name__}: it owns tensors itself")
        replacement = _fused_leaf(module, s, shared and name in consumers)
        if not name:
            body = replacement
        else:
            _set_module(body, name, replacement)
    states = [m.state_dict() for m in members]
    body.load_state_dict(
        {
            k: v if v.dim() == 0 else torch.cat([st[k] for st in states])
            for k, v in states[0].items()
        }
    )
    device = example.device
    fused = FusedEnsemble(body, s, example.shape[1], not shared, aggregation).to(device)
    _check_probe(members, fused, example)
    return fused.train(members[0].training)


def _owns_tensors(module: nn.Module) -> bool:
    return any(True for _ in module.parameters(recurse=False)) or any(
        True for _ in module.buffers(recurse=False)
    )


def _set_module(root: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, module)


def _check_probe(members: Sequence[nn.Module], fused: FusedEnsemble, example: Tensor) -> None:
    with _evaluating([*members, fused]):
        expected = [m(example) for m in members]
        try:
            got = fused.member_logits(example)
        except RuntimeError as exc:
            raise NotFusableError(f"the fused forward fails: {str(exc)[:120]}") from exc
    for a, b in zip(got, expected, strict=True):
        scale = 1.0 + float(b.abs().max())
        if a.shape != b.shape or float((a - b).abs().max()) > PROBE_TOLERANCE * scale:
            raise NotFusableError("the members' forward mixes channels across members")


@torch.no_grad()
def unfuse(fused: FusedEnsemble, members: Sequence[nn.Module]) -> None:
    """Copies the fused weights back into the members (in place, exactly)."""
    state = fused.body.state_dict()
    for i, member in enumerate(members):
        member.load_state_dict(
            {k: v if v.dim() == 0 else v.chunk(fused.networks)[i] for k, v in state.items()}
        )
