"""The training recipe a candidate carries: what the trainer needs besides the architecture.

Weight decay and dropout are stored undivided (as for the S=1 network); the divided values
the members train with come from `space.division`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

from space.checks import check_choice, checked_fields
from space.errors import ConfigError

Mode = Literal["cotrain", "independent"]
Aggregation = Literal["mean_logits", "mean_prob", "geometric"]
Augmentation = Literal["none", "crop", "crop_flip", "paper"]
Precision = Literal["fp32", "bf16", "fp16"]


@dataclass(frozen=True)
class Recipe:
    """Paper defaults (SGD Nesterov, lr 0.1, batch 128, cosine, JS weight 0.5 over 40 epochs)."""

    epochs: int = 300
    batch_size: int = 128
    lr: float = 0.1
    lr_min: float = 1e-4
    momentum: float = 0.9
    warmup_epochs: float = 5.0
    weight_decay: float = 5e-4
    dropout: float = 0.0
    js_weight: float = 0.5
    js_warmup_epochs: float = 40.0
    mode: Mode = "cotrain"
    aggregation: Aggregation = "mean_logits"
    augmentation: Augmentation = "crop_flip"
    precision: Precision = "fp32"
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        _require(self.epochs >= 1, "epochs", self.epochs, ">= 1")
        _require(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        _require(self.lr > 0, "lr", self.lr, "> 0")
        _require(0 <= self.lr_min <= self.lr, "lr_min", self.lr_min, "between 0 and lr")
        _require(0 <= self.momentum < 1, "momentum", self.momentum, "in [0, 1)")
        _require(self.warmup_epochs >= 0, "warmup_epochs", self.warmup_epochs, ">= 0")
        _require(self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        _require(0 <= self.dropout < 1, "dropout", self.dropout, "in [0, 1)")
        _require(self.js_weight >= 0, "js_weight", self.js_weight, ">= 0")
        _require(self.js_warmup_epochs >= 0, "js_warmup_epochs", self.js_warmup_epochs, ">= 0")
        if self.time_limit_s is not None:
            _require(self.time_limit_s > 0, "time_limit_s", self.time_limit_s, "> 0 or null")
        for name, kind in (
            ("mode", Mode),
            ("aggregation", Aggregation),
            ("augmentation", Augmentation),
            ("precision", Precision),
        ):
            check_choice(f"recipe {name}", getattr(self, name), get_args(kind))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        return cls(**checked_fields(cls, data, "recipe"))


def _require(ok: bool, name: str, value: object, rule: str) -> None:
    if not ok:
        raise ConfigError(f"recipe {name}={value} is not allowed; it must be {rule}")
