"""What a search is asked to do: one frozen value built by the CLI and passed to the library."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from searcher.study.open import Objective
from space.budget import Budget
from space.search_space import SearchSpace


@dataclass(frozen=True)
class SearchConfig:
    space: SearchSpace
    data: str = "digits"
    data_dir: str | None = None
    storage: str | None = None
    study: str | None = None
    n_trials: int = 24
    timeout_s: float | None = None
    budget: Budget = field(default_factory=Budget)
    objective: Objective = "gflops"
    device: str = "cpu"
    seed: int = 0
    runs_dir: Path = Path("runs")
    pruning: bool = True
    throughput_batch: int = 64
    # "add": train n_trials more than the study holds; "total": until it holds n_trials trained
    # (what several workers sharing one study need).
    trial_target: Literal["add", "total"] = "add"
    heartbeat_s: int = 10  # a killed worker's trial is failed (and retried) after 3 beats
    worker: str = ""  # label prefixed to progress lines when several workers run

    @property
    def study_name(self) -> str:
        return self.study or f"{self.data}-{self.space.name}"
