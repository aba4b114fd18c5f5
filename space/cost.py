"""Cost model: multiply-adds (fvcore) and parameters, per member and summed over the ensemble.

Only convolutions and linear layers are counted, as multiply-adds at batch 1, which is the
convention of the papers' tables (normalisation and activations are excluded). Results are
cached per member spec and image size, because the search asks about the same ones often.
"""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass

import torch

with warnings.catch_warnings():  # fvcore scripts a helper at import; torch calls that deprecated
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn import FlopCountAnalysis

from space.candidate import Candidate
from space.division import divide
from space.families import build_member
from space.member import MemberSpec

COUNTED_OPS = ("aten::_convolution", "aten::addmm", "aten::linear", "aten::matmul", "aten::mm")


@dataclass(frozen=True)
class MemberCost:
    gflops: float
    params_m: float


@dataclass(frozen=True)
class Cost:
    members: tuple[MemberCost, ...]

    @property
    def gflops(self) -> float:
        return sum(m.gflops for m in self.members)

    @property
    def params_m(self) -> float:
        return sum(m.params_m for m in self.members)

    @property
    def max_member_gflops(self) -> float:
        return max(m.gflops for m in self.members)


def estimate(candidate: Candidate) -> Cost:
    return _estimate(candidate)


@functools.lru_cache(maxsize=8192)
def _estimate(candidate: Candidate) -> Cost:
    return Cost(tuple(member_cost(spec, candidate.image_size) for spec in divide(candidate)))


@functools.lru_cache(maxsize=8192)
def member_cost(spec: MemberSpec, image_size: int) -> MemberCost:
    model = build_member(spec).eval()
    params = sum(p.numel() for p in model.parameters())
    image = torch.zeros(1, spec.in_channels, image_size, image_size)
    analysis = FlopCountAnalysis(model, image)
    analysis.set_op_handle(**{op: None for op in _uncounted_ops(analysis)})
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    jit_logger = logging.getLogger("fvcore.nn.jit_analysis")
    previous, jit_logger.level = jit_logger.level, logging.ERROR
    try:
        with torch.no_grad():
            macs = analysis.total()
    finally:
        jit_logger.setLevel(previous)
    return MemberCost(gflops=macs / 1e9, params_m=params / 1e6)


def _uncounted_ops(analysis: FlopCountAnalysis) -> list[str]:
    return [op for op in analysis._op_handles if op not in COUNTED_OPS]
