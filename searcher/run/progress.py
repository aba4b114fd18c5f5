"""Progress output of a search: trial, candidate, epochs, result, and the current front."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from searcher.study import attrs
from searcher.study.frontier import front_view, seed_mean, spread_words
from searcher.study.open import OBJECTIVE_ATTRS
from searcher.study.records import TrialRecord
from searcher.study.storage import redact
from searcher.study.tables import frontier_rows, render
from space.candidate import Candidate
from space.cost import estimate
from trainers.data import DataSource
from trainers.train.cotrain import EpochReport

if TYPE_CHECKING:
    from searcher.run.config import SearchConfig
    from searcher.run.summary import SearchSummary
    from searcher.run.trial_run import TrialOutcome
    from space.search_space import SearchSpace


def latency_how(stored: dict[str, Any]) -> str:
    """` (fused, channels-last)`: how the latency shown runs (NCHW, the default, goes unsaid)."""
    mode, layout = stored.get(attrs.LATENCY_MODE), stored.get(attrs.LATENCY_LAYOUT)
    if not mode:
        return ""
    return f" ({mode}{', channels-last' if layout == 'channels_last' else ''})"


class Progress:
    def __init__(self, out: Callable[[str], None], objective: str, worker: str = "") -> None:
        self.objective = objective
        self.out = (lambda line: out(f"[{worker}] {line}")) if worker else out

    def start(
        self, config: SearchConfig, space: SearchSpace, data: DataSource, existing: int, target: int
    ) -> None:
        url = redact(config.storage) if config.storage else f"sqlite file under {config.runs_dir}/"
        resumed = f", resuming {existing} stored trials" if existing else ""
        if config.worker:
            self.out(f"worker pid {os.getpid()} on {config.device}")
        self.out(
            f"study '{config.study_name}' ({url}{resumed}): space {space.name} "
            f"({len(space.candidates())} candidates), data {config.data} "
            f"({len(data.train)} train / {len(data.val)} val), budget {config.budget.describe()}, "
            f"objectives: accuracy vs {self.objective}; until the study holds {target} trained"
        )
        if data.note:
            self.out(data.note)
        if config.latency_runtime != "pytorch":
            self.out(f"latency: the exported graphs, timed in {config.latency_runtime} (CPU)")

    def startup(self, seconds: dict[str, float]) -> None:
        """Where this worker's start-up went (the first trial's first step says the rest)."""
        if seconds:
            self.out(
                f"start-up: data index {seconds.get('data', 0):.1f} s, "
                f"cost of the space (budget check) {seconds.get('costs', 0):.1f} s, "
                f"opening the study {seconds.get('study', 0):.1f} s"
            )

    def trial_start(self, number: int, candidate: Candidate, retry_seed: int | None = None) -> None:
        cost = estimate(candidate)
        retry = "" if retry_seed is None else f" (stopped before: retried with seed {retry_seed})"
        self.out(
            f"[trial {number}] {candidate.label}: {cost.gflops:.4g} GFLOPs, "
            f"{cost.params_m:.4g} M params{retry}"
        )

    def epoch(self, report: EpochReport) -> None:
        self.out(
            f"    epoch {report.epoch}/{report.epochs}  loss {report.train_loss:.3f}  "
            f"val acc {report.val.accuracy:.4f}  ({report.elapsed_s:.1f} s)"
        )

    def trial_end(self, number: int, outcome: TrialOutcome) -> None:
        a = outcome.attrs
        if outcome.status == "pruned":
            self.out(f"    pruned after epoch {a[attrs.EPOCHS_RUN]} by the early-stopping rule")
            return
        members = " ".join(f"{m:.3f}" for m in a[attrs.MEMBER_ACCURACIES])
        self.out(
            f"    => accuracy {a[attrs.ACCURACY]:.4f} (members {members}), "
            f"latency {a[attrs.LATENCY_MS]:.3g} ms{latency_how(a)}, "
            f"trained in {a[attrs.TRAIN_SECONDS]:.1f} s"
        )

    def front(self, front: Sequence[TrialRecord]) -> None:
        """`0.972@label`, or `0.968(2)@label` for a mean over 2 seeds."""
        points = ", ".join(f"{seed_mean(r):.3f}{seeds_note(r)}@{r.label}" for r in front)
        self.out(f"    front ({len(front)}): {points}")

    def confirm_start(self, record: TrialRecord, seed: int, nth: int) -> None:
        self.out(
            f"[confirm trial {record.number}] {record.label}: run {nth} with seed {seed} (the "
            f"seeds so far do not settle its place on the front)"
        )

    def confirm_end(
        self, record: TrialRecord, seed: int, accuracy: float, runs: dict[str, float]
    ) -> None:
        values = list(runs.values())
        self.out(
            f"    => seed {seed}: accuracy {accuracy:.4f}; mean {sum(values) / len(values):.4f} "
            f"over {len(values)} seeds ({' '.join(f'{v:.4f}' for v in values)})"
        )

    def waiting(self, running: int) -> None:
        self.out(f"waiting for {running} running trial(s) of other workers to finish or go stale")

    def infeasible(self, number: int, candidate: Candidate, reasons: Sequence[str]) -> None:
        self.out(
            f"[trial {number}] {candidate.label}: over budget ({'; '.join(reasons)}), not trained"
        )

    def duplicate(self, number: int, candidate: Candidate, twin: int) -> None:
        self.out(
            f"[trial {number}] {candidate.label}: already trained as trial {twin}, result reused"
        )

    def failed(self, number: int, error: Exception) -> None:
        self.out(f"[trial {number}] failed: {' '.join(str(error).split())[:200]}")

    def surplus(self, number: int) -> None:
        self.out(f"[trial {number}] not started: the study reached its trial target")

    def finish(self, summary: SearchSummary, records: Sequence[TrialRecord]) -> None:
        counts = (
            ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items())) or "nothing"
        )
        self.out(f"\nthis run: {counts} in {summary.seconds:.0f} s")
        view = front_view(records, OBJECTIVE_ATTRS[self.objective])
        front = view.front
        self.out(
            f"Pareto front of study '{summary.study_name}' ({len(front)} of {len(records)} "
            f"trials; accuracy: mean over seeds ± its standard error, {spread_words(view.spread)}; "
            f"`tie with`: not told apart by the seeds):"
        )
        self.out(render(frontier_rows(front, view)))
        if front:
            self.out(NEXT_STEPS)


NEXT_STEPS = (
    "next: `searcher export --best --out deploy/` writes the most accurate point as a verified "
    "ONNX artifact (`--budget-gflops N`: the most accurate within N GFLOPs; give the --storage "
    "and --study of this run if it had them); `searcher ui` shows this front"
)


def seeds_note(record: TrialRecord) -> str:
    seeds = len(record.attrs.get(attrs.CONFIRM_SEEDS) or ())
    return f"({seeds})" if seeds > 1 else ""
