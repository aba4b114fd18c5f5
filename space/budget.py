"""Compute budgets and the before-training feasibility check against the cost model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

from space.candidate import Candidate
from space.checks import check_choice
from space.cost import estimate
from space.errors import ConfigError

LatencyReward = Literal["hard", "soft"]
MNAS_EXPONENT = -0.07


@dataclass(frozen=True)
class Budget:
    """Upper bounds; None means unbounded. Latency is checked by the searcher (it must measure).

    `member_latency_ms` bounds the slowest member (members served in parallel, Kondratyuk & Tan),
    as a hard constraint or, with `latency_reward="soft"`, through MnasNet's reward
    accuracy * (latency / T) ** -0.07 instead of the accuracy objective.
    """

    gflops: float | None = None
    params_m: float | None = None
    latency_ms: float | None = None
    latency_batch: int = 1
    member_latency_ms: float | None = None
    latency_reward: LatencyReward = "hard"

    def __post_init__(self) -> None:
        for name in ("gflops", "params_m", "latency_ms", "member_latency_ms"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"budget {name}={value} is not allowed; it must be > 0")
        if self.latency_batch < 1:
            raise ConfigError(f"latency batch {self.latency_batch} is not allowed; must be >= 1")
        check_choice("latency reward", self.latency_reward, get_args(LatencyReward))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Budget:
        return cls(**data)

    @property
    def is_unbounded(self) -> bool:
        limits = (self.gflops, self.params_m, self.latency_ms, self.member_latency_ms)
        return all(limit is None for limit in limits)

    @property
    def is_static(self) -> bool:
        """A FLOP or parameter limit: the cost model checks it before anything trains."""
        return self.gflops is not None or self.params_m is not None

    @property
    def needs_latency(self) -> bool:
        return self.latency_ms is not None or self.member_latency_ms is not None

    def describe(self) -> str:
        parts = []
        if self.gflops is not None:
            parts.append(f"{self.gflops:g} GFLOPs")
        if self.params_m is not None:
            parts.append(f"{self.params_m:g} M params")
        if self.latency_ms is not None:
            parts.append(f"{self.latency_ms:g} ms at batch {self.latency_batch}")
        if self.member_latency_ms is not None:
            parts.append(f"slowest member {self.member_latency_ms:g} ms ({self.latency_reward})")
        return ", ".join(parts) or "no budget"


def mnas_reward(accuracy: float, latency_ms: float, target_ms: float) -> float:
    """MnasNet's soft latency-aware reward: ACC * (LAT / T) ** w, w = -0.07."""
    return accuracy * (latency_ms / target_ms) ** MNAS_EXPONENT


def over_budget(candidate: Candidate, budget: Budget) -> list[str]:
    """Why the candidate exceeds the static (FLOP / parameter) budget; empty when it fits."""
    cost = estimate(candidate)
    reasons = []
    if budget.gflops is not None and cost.gflops > budget.gflops:
        reasons.append(f"{cost.gflops:.4g} GFLOPs > {budget.gflops:g}")
    if budget.params_m is not None and cost.params_m > budget.params_m:
        reasons.append(f"{cost.params_m:.4g} M params > {budget.params_m:g}")
    return reasons


def fits(candidate: Candidate, budget: Budget) -> bool:
    return not over_budget(candidate, budget)
