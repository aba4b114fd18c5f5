"""Progress inside an epoch: a trial whose epochs take minutes to hours must not look hung.

`StepProgress` is the trial's epoch callback with an `on_step` hook (trainers/train/cotrain.py
calls it after every optimizer step). Once an epoch has run for `interval_s`, it reports images/s,
the share of the epoch done and the ETAs of the epoch and of the trial: as a tqdm bar when the
output is a terminal, as a plain line every `interval_s` otherwise (logs, several workers). The
same figures go to the running trial's `progress` attribute at most every `store_interval_s`, so
`searcher frontier --all` and the dashboard show how far it is. Times are the trainer's clock,
so tests drive it with made-up reports.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from searcher.study.running import duration
from trainers.train.cotrain import EpochReport, StepReport, TrainingCallback

Store = Callable[[dict[str, Any]], None]


def progress_of(report: StepReport, now: float) -> dict[str, Any]:
    """The stored figures (searcher/study/attrs.py PROGRESS): ETAs assume every epoch runs."""
    per_step = report.epoch_s / max(report.step, 1)
    epoch_eta = per_step * (report.steps - report.step)
    done_epochs = report.epoch - 1
    before = report.elapsed_s - report.epoch_s  # earlier epochs, their evaluations included
    per_epoch = before / done_epochs if done_epochs else per_step * report.steps
    return {
        "epoch": report.epoch,
        "epochs": report.epochs,
        "step": report.step,
        "steps": report.steps,
        "fraction": report.step / max(report.steps, 1),
        "images_per_s": report.images / max(report.epoch_s, 1e-9),
        "epoch_eta_s": epoch_eta,
        "trial_eta_s": epoch_eta + per_epoch * (report.epochs - report.epoch),
        "elapsed_s": report.elapsed_s,
        "updated": now,  # unix time: a reader sees how old the figures are
    }


def progress_line(p: dict[str, Any]) -> str:
    return (
        f"    epoch {p['epoch']}/{p['epochs']}  {100 * p['fraction']:.0f}% "
        f"({p['step']}/{p['steps']} steps)  {p['images_per_s']:.0f} img/s  "
        f"epoch ETA {duration(p['epoch_eta_s'])}  trial ETA {duration(p['trial_eta_s'])}"
    )


class StepProgress:
    """The epoch callback (`then` runs after it) and the step hook of one trial."""

    def __init__(
        self,
        out: Callable[[str], None],
        then: TrainingCallback,
        store: Store | None = None,
        *,
        interval_s: float = 10.0,
        store_interval_s: float = 20.0,
        bar_file: TextIO | None = None,
        wall: Callable[[], float] = time.time,
        announce: bool = True,
    ) -> None:
        self.out, self.then, self.store, self.wall = out, then, store, wall
        self.interval_s, self.store_interval_s = interval_s, store_interval_s
        self.bar_file = bar_file  # a terminal: a tqdm bar instead of lines
        self.bar: Any = None
        self.said_start = not announce  # the worker's first trial says where start-up went
        self.last_line_s = self.last_store_s = 0.0  # trainer time of the last line / store
        self.stored_in_epoch = False

    def on_step(self, report: StepReport) -> None:
        if not self.said_start:
            self.said_start = True
            self.out(
                f"    first step after {report.setup_s + report.epoch_s:.1f} s: building the "
                f"members and the feed {report.setup_s:.1f} s, the first step {report.epoch_s:.1f} s"
            )
        if report.step == 1:
            self.last_line_s = report.elapsed_s - report.epoch_s  # the epoch's start
        per_step = report.epoch_s / report.step
        # a line before the next step would make the gap longer than the interval
        due = report.elapsed_s - self.last_line_s + per_step >= self.interval_s
        if due and report.step < report.steps:
            self.last_line_s = report.elapsed_s
            self.show(report)
        if self.bar is not None:
            self.bar.update(report.step - self.bar.n)
        if self.store is not None and report.elapsed_s - self.last_store_s >= self.store_interval_s:
            self.last_store_s = report.elapsed_s
            self.stored_in_epoch = True
            self.store(progress_of(report, self.wall()))

    def show(self, report: StepReport) -> None:
        p = progress_of(report, self.wall())
        if self.bar_file is None:
            self.out(progress_line(p))
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=report.steps, desc=f"    epoch {report.epoch}/{report.epochs}",
                            unit="step", file=self.bar_file, leave=False, mininterval=1.0)  # fmt: skip
        self.bar.set_postfix_str(
            f"{p['images_per_s']:.0f} img/s, trial ETA {duration(p['trial_eta_s'])}", refresh=True
        )

    def __call__(self, report: EpochReport) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.store is not None and self.stored_in_epoch:  # not left mid-epoch
            self.stored_in_epoch = False
            per_epoch = report.elapsed_s / report.epoch
            self.store({"epoch": report.epoch, "epochs": report.epochs, "fraction": 1.0,
                        "trial_eta_s": per_epoch * (report.epochs - report.epoch),
                        "elapsed_s": report.elapsed_s, "updated": self.wall()})  # fmt: skip
        self.then(report)


def terminal_bar_file(worker: str) -> TextIO | None:
    """stderr when it is a terminal and this process is the only worker writing to it."""
    return sys.stderr if not worker and sys.stderr.isatty() else None
