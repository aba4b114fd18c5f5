"""Batch normalisation over a data-parallel group on the CPU, where `nn.SyncBatchNorm` refuses
to run: the training statistics are the whole group's, so K processes normalise exactly as one
process over the global batch would (`trainers.train.distributed`)."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn


class _SumOverGroup(torch.autograd.Function):
    """All-reduce (sum) whose backward sums the gradients too: the statistic feeds every rank's
    loss, so its gradient is the sum of theirs."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor) -> Tensor:
        return _summed(tensor)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return _summed(grad)


def _summed(tensor: Tensor) -> Tensor:
    out = tensor.clone(memory_format=torch.contiguous_format)
    dist.all_reduce(out)
    return out


class GroupBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are the whole group's (two passes: the mean, then
    the centred squares, as exact as the one-process kernel); evaluation is plain BatchNorm."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return super().forward(x)
        dims = [0, 2, 3]
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        sums = _SumOverGroup.apply(torch.cat([x.sum(dims), count]))
        n = sums[-1].detach()
        mean = (sums[:-1] / n).view(1, -1, 1, 1)
        centred = x - mean
        var = _SumOverGroup.apply((centred * centred).sum(dims)) / n
        y = centred * torch.rsqrt(var + self.eps).view(1, -1, 1, 1)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        self._track(mean.flatten(), var, int(n.item()))
        return y

    @torch.no_grad()
    def _track(self, mean: Tensor, var: Tensor, n: int) -> None:
        """Running statistics as BatchNorm keeps them (unbiased variance)."""
        if not self.track_running_stats or self.running_mean is None:
            return
        self.num_batches_tracked.add_(1)
        factor = self.momentum if self.momentum is not None else 1 / int(self.num_batches_tracked)
        unbiased = var.detach() * (n / max(n - 1, 1))
        self.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
        self.running_var.mul_(1 - factor).add_(unbiased, alpha=factor)


def swap_norms(model: nn.Module, kind: type[nn.modules.batchnorm._BatchNorm]) -> None:
    """Replaces every 2-d batch norm by `kind`, sharing its parameters and buffers: the optimizer
    keeps training the same tensors, and swapping back to `nn.BatchNorm2d` is exact."""
    norms = (nn.BatchNorm2d, nn.SyncBatchNorm)
    for name, child in list(model.named_children()):
        if isinstance(child, norms) and type(child) is not kind:
            new = kind(child.num_features, child.eps, child.momentum, child.affine,
                       child.track_running_stats, device="meta")  # fmt: skip
            for attr in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                setattr(new, attr, getattr(child, attr))
            new.train(child.training)
            setattr(model, name, new)
        else:
            swap_norms(child, kind)
