"""fvcore's count without fvcore's trace: the same per-op rules, read from a forward on `meta`.

fvcore traces the member with torch.jit on real tensors, so costing an ImageNet member computes
its whole forward (seconds on a busy CPU). Here the member is built and run on the `meta` device
(shapes only, no arithmetic) under a TorchFunctionMode that sees the same calls the trace
records (`torch.conv2d`, `F.linear`, `F.batch_norm`, `F.adaptive_avg_pool2d`, ...) and applies
fvcore's default rules to their shapes (fvcore/nn/jit_handles.py; its "ignored" ops stay counted
there, so they are counted here too). Calls whose fvcore rule is not mirrored raise
`NotCountable`, and `space.cost` falls back to fvcore; tests/space/test_cost_cache.py checks
that both give the same numbers for every family.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode

from space.families import build_member
from space.member import MemberSpec

Rule = Callable[[Sequence[Any], dict[str, Any], Any], float]


class NotCountable(Exception):
    """The forward calls something whose fvcore rule is not mirrored here."""


def _arg(args: Sequence[Any], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _conv(args: Sequence[Any], kwargs: dict[str, Any], out: Tensor) -> float:
    x, w = args[0], _arg(args, kwargs, 1, "weight")
    return x.shape[0] * math.prod(w.shape) * math.prod(out.shape[2:])


def _conv_transposed(args: Sequence[Any], kwargs: dict[str, Any], out: Tensor) -> float:
    x, w = args[0], _arg(args, kwargs, 1, "weight")
    return x.shape[0] * math.prod(w.shape) * math.prod(x.shape[2:])


def _linear(args: Sequence[Any], kwargs: dict[str, Any], out: Tensor) -> float:
    return math.prod(args[0].shape) * _arg(args, kwargs, 1, "weight").shape[0]


def _addmm(args: Sequence[Any], kwargs: dict[str, Any], out: Tensor) -> float:
    a, b = _arg(args, kwargs, 1, "mat1"), _arg(args, kwargs, 2, "mat2")
    return a.shape[0] * a.shape[1] * b.shape[1]


def _matmul(args: Sequence[Any], kwargs: dict[str, Any], out: Tensor) -> float:
    a = args[0]
    b = args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("mat2"))
    if a.dim() < 2 or b.dim() < 2:
        raise NotCountable("matmul of a vector")
    return math.prod(a.shape) * b.shape[-1]


def _bmm(args: Sequence[Any], kwargs: dict[str, Any], out: Tensor) -> float:
    a, b = args[0], _arg(args, kwargs, 1, "mat2")
    return math.prod(a.shape) * b.shape[-1]


def _norm(weight_name: str, weight_index: int) -> Rule:
    def rule(args: Sequence[Any], kwargs: dict[str, Any], out: Tensor) -> float:
        affine = _arg(args, kwargs, weight_index, weight_name) is not None
        return math.prod(args[0].shape) * (5 if affine else 4)

    return rule


def _batch_norm(args: Sequence[Any], kwargs: dict[str, Any], out: Tensor) -> float:
    affine = _arg(args, kwargs, 3, "weight") is not None
    if _arg(args, kwargs, 5, "training"):
        return math.prod(args[0].shape) * (5 if affine else 4)
    return math.prod(args[0].shape) * (2 if affine else 1)


def _input_size(args: Sequence[Any], kwargs: dict[str, Any], out: Tensor) -> float:
    return math.prod(args[0].shape)


RULES: dict[Any, Rule] = {
    **dict.fromkeys((torch.conv1d, torch.conv2d, torch.conv3d), _conv),
    **dict.fromkeys(
        (torch.conv_transpose1d, torch.conv_transpose2d, torch.conv_transpose3d), _conv_transposed
    ),
    F.linear: _linear,
    **dict.fromkeys((torch.addmm, Tensor.addmm), _addmm),
    **dict.fromkeys((torch.matmul, Tensor.matmul, Tensor.__matmul__, torch.mm, Tensor.mm), _matmul),
    **dict.fromkeys((torch.bmm, Tensor.bmm), _bmm),
    F.batch_norm: _batch_norm,
    F.group_norm: _norm("weight", 2),
    F.layer_norm: _norm("weight", 2),
    F.instance_norm: _norm("weight", 3),
    F.adaptive_avg_pool2d: _input_size,
}
# fvcore counts these too (einsum, upsampling, grid sampling) with rules not mirrored here.
NOT_MIRRORED = (torch.einsum, F.interpolate, F.upsample, F.grid_sample, Tensor.__rmatmul__,
                F.multi_head_attention_forward)  # fmt: skip


class _Counting(TorchFunctionMode):
    """Sums the rules of the outermost calls (a mode sees no calls nested in the ones it sees:
    helpers that call counted ops inside, such as attention, are in NOT_MIRRORED)."""

    def __init__(self) -> None:
        super().__init__()
        self.macs = 0.0

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in NOT_MIRRORED:
            raise NotCountable(getattr(func, "__name__", str(func)))
        rule = RULES.get(func)
        if rule is not None:
            out = func(*args, **kwargs)
            self.macs += rule(args, kwargs, out)
            return out
        return func(*args, **kwargs)


def meta_count(spec: MemberSpec, image_size: int) -> tuple[float, int]:
    """(multiply-adds as fvcore counts them, parameters) of one member at batch 1."""
    try:
        with torch.device("meta"):
            model = build_member(spec).eval()
            image = torch.zeros(1, spec.in_channels, image_size, image_size)
        counting = _Counting()
        with torch.no_grad(), counting:
            model(image)
    except NotCountable:
        raise
    except Exception as exc:  # a builder or forward that needs real values (.item() and such)
        raise NotCountable(f"{type(exc).__name__}: {exc}") from None
    return counting.macs, sum(p.numel() for p in model.parameters())
