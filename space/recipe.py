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
MemoryFormat = Literal["contiguous", "channels_last"]
Compile = Literal["off", "default", "max-autotune"]
MemberExecution = Literal["loop", "fused"]  # fused: the members as one grouped network
# wide_then_narrow: the members first imitate a trained wide teacher (Zhou et al., trainers.train.imitation)
Init = Literal["scratch", "wide_then_narrow"]
# Execution options that do not change what is trained: left out of `to_dict` at their defaults,
# so candidate ids (a hash of `to_dict`) stay what they were before the options existed.
OMITTED_DEFAULTS = {"memory_format": "contiguous", "compile": "off", "execution": "loop"}
# Likewise the Go-Wide-Then-Narrow fields: scratch-trained candidates keep their ids.
OMITTED_DEFAULTS |= {"init": "scratch", "imitation_epochs": 1, "teacher_width_factor": 2}


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
    memory_format: MemoryFormat = "contiguous"
    compile: Compile = "off"  # torch.compile mode of the members; a failure falls back to eager
    execution: MemberExecution = "loop"  # fused where the candidate fuses (trainers.train.fused)
    init: Init = "scratch"
    imitation_epochs: int = 1  # of `epochs`, spent imitating the teacher (wide_then_narrow)
    teacher_width_factor: int = 2  # the S=1 candidate's teacher: its network this much wider

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
        if self.init == "wide_then_narrow":
            _require(
                1 <= self.imitation_epochs < self.epochs, "imitation_epochs",
                self.imitation_epochs, "between 1 and epochs - 1 (the head trains afterwards)",
            )  # fmt: skip
        _require(self.teacher_width_factor >= 2, "teacher_width_factor",
                 self.teacher_width_factor, ">= 2")  # fmt: skip
        if self.time_limit_s is not None:
            _require(self.time_limit_s > 0, "time_limit_s", self.time_limit_s, "> 0 or null")
        for name, kind in (
            ("mode", Mode),
            ("aggregation", Aggregation),
            ("augmentation", Augmentation),
            ("precision", Precision),
            ("memory_format", MemoryFormat),
            ("compile", Compile),
            ("execution", MemberExecution),
            ("init", Init),
        ):
            check_choice(f"recipe {name}", getattr(self, name), get_args(kind))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key, default in OMITTED_DEFAULTS.items():
            if data[key] == default:
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        return cls(**checked_fields(cls, data, "recipe"))


def _require(ok: bool, name: str, value: object, rule: str) -> None:
    if not ok:
        raise ConfigError(f"recipe {name}={value} is not allowed; it must be {rule}")
