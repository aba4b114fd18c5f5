"""What a search is asked to do: one frozen value built by the CLI and passed to the library."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from searcher.run.racing import CAP, CONFIRM_SHARE
from searcher.study.open import Objective, ReferenceOrder
from searcher.study.sampler import SamplerKind
from space.budget import Budget
from space.search_space import SearchSpace

if TYPE_CHECKING:  # the CLI builds a config without importing torch
    from trainers.data import DataMode

# Early stopping: MO-ASHA's cut at calibrated, hedged rungs (searcher/run/calibrated.py), classic
# MO-ASHA (searcher/run/asha.py), the cost-bucket median rule (searcher/run/pruning.py), or none
# (every candidate trains its full recipe).
Stopping = Literal["calibrated", "asha", "median", "none"]
# What times a trial's latency table: PyTorch on the training device, or the deployable ONNX
# graphs in ONNX Runtime's CPU provider (trainers/measure/runtime_latency.py).
LatencyRuntime = Literal["pytorch", "onnxruntime"]


@dataclass(frozen=True)
class SearchConfig:
    space: SearchSpace
    data: str = "digits"
    data_dir: str | None = None
    data_mode: DataMode = "auto"  # memory | stream | auto (image folders over 1 GiB stream)
    data_workers: int | None = None  # loader processes when streaming (None: from the cores)
    storage: str | None = None
    study: str | None = None
    n_trials: int = 24
    timeout_s: float | None = None
    budget: Budget = field(default_factory=Budget)
    objective: Objective = "gflops"
    device: str = "cpu"
    seed: int = 0
    runs_dir: Path = Path("runs")
    sampler: SamplerKind = "front"
    stopping: Stopping = "calibrated"
    asha_eta: int = 3  # keep the top 1/eta at each rung; rungs at max_epochs // eta**k
    asha_min_epochs: int = 2  # the lowest rung
    throughput_batch: int = 64
    latency_runtime: LatencyRuntime = "pytorch"
    # "add": train n_trials more than the study holds; "total": until it holds n_trials trained
    # (what several workers sharing one study need).
    trial_target: Literal["add", "total"] = "add"
    heartbeat_s: int = 10  # a killed worker's trial is failed (and retried) after 3 beats
    storage_outage_limit_s: float = 300.0  # then a worker the database left stops (outage.py)
    worker: str = ""  # label prefixed to progress lines when several workers run
    # Processes (and devices) per trial: the batch split over them (trainers.train.distributed).
    devices_per_trial: int = 1
    trial_devices: tuple[str, ...] = ()  # this worker's devices for them (default: `device`)
    # Racing (searcher/run/race_step.py): the most of the study's training epochs confirmation
    # runs may take (0: none), and the seeds per contested point, its own run included.
    confirm_share: float = CONFIRM_SHARE
    confirm_seeds: int = CAP
    # The space's references (the paper's undivided networks): trained before any proposal, or
    # in the run's last slots, after the search (the default: the front comes first).
    references: ReferenceOrder = "last"

    @property
    def devices(self) -> tuple[str, ...]:
        """The devices one trial trains on, rank 0's first."""
        return self.trial_devices or (self.device,) * self.devices_per_trial

    @property
    def study_name(self) -> str:
        return self.study or f"{self.data}-{self.space.name}"
