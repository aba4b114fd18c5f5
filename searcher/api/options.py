"""The options of a search, as keywords: the one place where `searcher run` (and `compare`)
and the Python API turn options into a `SearchConfig`, so the two cannot disagree.

Every `searcher run` option has a field of the same name (dashes become underscores) and the
same default; tests/searcher/test_api_options.py checks that against the argument parser.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from searcher.run.racing import CAP, CONFIRM_SHARE
from space.errors import ConfigError
from space.presets import preset_names

if TYPE_CHECKING:  # building options never loads torch; a search imports it when it trains
    from searcher.run.config import SearchConfig
    from space.budget import Budget
    from space.search_space import SearchSpace

SpaceKind = Literal["homogeneous", "heterogeneous"]

# The data sets `trainers.data` registers, with their default preset (a test keeps them equal).
DEFAULT_SPACES = {
    "digits": "digits",
    "cifar10": "cifar",
    "cifar100": "cifar",
    "imagefolder": "imagenet",
}


@dataclass(frozen=True)
class SearchOptions:
    """`searcher run`'s options by name; see `searcher run --help` for what each one does."""

    space: str | None = None  # preset or YAML file; None: the data set's preset
    space_kind: SpaceKind = "homogeneous"
    data: str = "digits"
    data_dir: str | None = None
    data_mode: Literal["auto", "memory", "stream"] | None = None
    data_workers: int | None = None
    storage: str | None = None  # SQLAlchemy URL; None: sqlite file <runs_dir>/divco.db
    study: str | None = None  # None: <data>-<space>
    runs_dir: str | Path = "runs"  # checkpoints, and the default storage
    n_trials: int = 24
    timeout: float | None = None
    budget_gflops: float | None = None
    budget_params_m: float | None = None
    budget_latency_ms: float | None = None
    latency_batch: int = 1
    member_latency_ms: float | None = None
    latency_reward: Literal["hard", "soft"] = "hard"
    objective: Literal["gflops", "latency"] = "gflops"
    device: str = "cpu"
    latency_runtime: Literal["pytorch", "onnxruntime"] = "pytorch"
    seed: int = 0
    init: Literal["scratch", "wide_then_narrow"] | None = None
    sampler: Literal["front", "tpe"] = "front"
    stopping: Literal["calibrated", "asha", "median", "none"] | None = None  # None: calibrated
    no_pruning: bool = False
    asha_eta: int = 3
    asha_min_epochs: int = 2
    devices: str | None = None  # GPU indices "0,1,2,3", one worker each
    workers: int = 1  # CPU worker processes
    heartbeat_s: int = 10
    storage_outage_limit: float = 300.0  # seconds without a database before a worker stops
    devices_per_trial: int = 1
    confirm_share: float = CONFIRM_SHARE  # racing: further seeds for contested front points
    confirm_seeds: int = CAP
    references: Literal["first", "last"] = "last"  # the space's references: before/after search

    def __post_init__(self) -> None:
        """The checks the command line's argument types make, for callers that skip it."""
        positive = ("n_trials", "timeout", "budget_gflops", "budget_params_m",
                    "budget_latency_ms", "latency_batch", "member_latency_ms", "data_workers",
                    "asha_min_epochs", "workers", "heartbeat_s", "devices_per_trial",
                    "storage_outage_limit",
                    "confirm_seeds")  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be > 0, not {value}")
        if not 0 <= self.confirm_share < 1:
            raise ConfigError(f"confirm_share must be >= 0 and < 1, not {self.confirm_share}")
        if self.asha_eta < 2:
            raise ConfigError(f"asha_eta must be >= 2, not {self.asha_eta}")
        for name, allowed in literal_fields().items():  # a config file or a caller skips argparse
            value = getattr(self, name)
            if value is not None and value not in allowed:
                choices = ", ".join(map(str, allowed))
                raise ConfigError(f"{name} must be one of {choices}, not {value!r}")

    @classmethod
    def from_keywords(cls, options: dict[str, Any]) -> SearchOptions:
        """Unknown names are one error that lists the valid ones (not a TypeError)."""
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
        return cls(**options)


@functools.cache
def literal_fields() -> dict[str, tuple[Any, ...]]:
    """The choices of every SearchOptions field typed as a Literal (optional ones included)."""
    hints = typing.get_type_hints(SearchOptions)
    choices = {}
    for name, hint in hints.items():
        parts = typing.get_args(hint) if typing.get_origin(hint) is not Literal else (hint,)
        allowed = [a for p in parts if typing.get_origin(p) is Literal for a in typing.get_args(p)]
        if allowed:
            choices[name] = tuple(allowed)
    return choices


def budget_of(options: Any) -> Budget:
    """The budget options of `run`, `export` and `space show` (those without one are unbounded)."""
    from space.budget import Budget

    return Budget(
        gflops=getattr(options, "budget_gflops", None),
        params_m=getattr(options, "budget_params_m", None),
        latency_ms=getattr(options, "budget_latency_ms", None),
        latency_batch=getattr(options, "latency_batch", 1),
        member_latency_ms=getattr(options, "member_latency_ms", None),
        latency_reward=getattr(options, "latency_reward", "hard"),
    )


def stopping_of(options: SearchOptions) -> str:
    """`stopping`, with `no_pruning` kept as the old spelling of `none`."""
    if options.no_pruning and options.stopping not in (None, "none"):
        raise ConfigError(f"--no-pruning means --stopping none, not {options.stopping}; give one")
    return "none" if options.no_pruning else options.stopping or "calibrated"


def space_of(options: SearchOptions, kind: SpaceKind | None = None) -> SearchSpace:
    """`space`, or the data set's preset of the kind (`digits`, `digits-hetero`, ...)."""
    from space.search_space import load_space
    from trainers.data import DATASETS

    kind = kind or options.space_kind
    DATASETS.get(options.data)  # an unknown data set is an error before anything else
    suffix = "-hetero" if kind == "heterogeneous" else ""
    name = options.space or DEFAULT_SPACES[options.data] + suffix
    if name not in preset_names() and not options.space:
        raise ConfigError(f"no {kind} preset for data set '{options.data}'; give --space FILE")
    space = load_space(name)
    if space.kind != kind:
        raise ConfigError(f"space '{space.name}' is {space.kind}, not {kind} (--space-kind)")
    if options.init:  # recipe init for every candidate (docs: Go Wide, Then Narrow)
        space = space.with_recipe(init=options.init)
    return space


def search_config(options: SearchOptions, space: SearchSpace | None = None) -> SearchConfig:
    """The frozen config the search loop reads (`space` defaults to `space_of(options)`)."""
    from searcher.run.config import SearchConfig

    return SearchConfig(
        space=space or space_of(options),
        data=options.data,
        data_dir=options.data_dir,
        data_mode=options.data_mode or "auto",
        data_workers=options.data_workers,
        storage=options.storage,
        study=options.study,
        n_trials=options.n_trials,
        timeout_s=options.timeout,
        budget=budget_of(options),
        objective=options.objective,
        device=options.device,
        seed=options.seed,
        runs_dir=Path(options.runs_dir),
        sampler=options.sampler,
        stopping=stopping_of(options),  # type: ignore[arg-type]
        asha_eta=options.asha_eta,
        asha_min_epochs=options.asha_min_epochs,
        heartbeat_s=options.heartbeat_s,
        storage_outage_limit_s=options.storage_outage_limit,
        devices_per_trial=options.devices_per_trial,
        latency_runtime=options.latency_runtime,
        confirm_share=options.confirm_share,
        confirm_seeds=options.confirm_seeds,
        references=options.references,
    )
