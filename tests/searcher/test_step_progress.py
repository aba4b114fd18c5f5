"""Progress inside an epoch, driven by made-up step reports (the trainer's clock is injected)."""

from __future__ import annotations

import io
import itertools
from pathlib import Path
from typing import Any

import pytest

from searcher.cli.main import main
from searcher.run.step_progress import StepProgress, progress_of
from searcher.study import attrs
from space import Candidate, Recipe
from tests.ui.fake_study import make_study, start_running
from trainers import load_data, train
from trainers.train.cotrain import StepReport


def epochs_of(progress: StepProgress, epochs: int, steps: int, step_s: float, eval_s: float,
              setup_s: float = 4.0) -> list[float]:  # fmt: skip
    """Feeds `progress` the reports of a run; returns the trainer times at which it printed."""
    elapsed = 0.0
    for epoch in range(1, epochs + 1):
        begun = elapsed
        for step in range(1, steps + 1):
            elapsed += step_s
            progress.now = elapsed  # type: ignore[attr-defined]
            progress.on_step(StepReport(epoch, epochs, step, steps, step * 32, elapsed - begun,
                                        elapsed, setup_s))  # fmt: skip
        elapsed += eval_s
    return elapsed


def recorder() -> tuple[StepProgress, list[tuple[float, str]], list[dict[str, Any]]]:
    lines: list[tuple[float, str]] = []
    stored: list[dict[str, Any]] = []
    progress = StepProgress(lambda line: lines.append((progress.now, line)), lambda _: None,
                            store=stored.append, wall=lambda: 1000.0)  # fmt: skip
    progress.now = 0.0  # type: ignore[attr-defined]
    return progress, lines, stored


@pytest.mark.parametrize("step_s", [0.3, 1.7, 4.9])
def test_a_long_epoch_prints_a_line_with_an_eta_at_least_every_10_s(step_s: float) -> None:
    progress, lines, _ = recorder()
    steps, eval_s = int(120 / step_s), 5.0
    epochs_of(progress, epochs=2, steps=steps, step_s=step_s, eval_s=eval_s)
    first, *rest = lines
    assert f"members and the feed 4.0 s, the first step {step_s:.1f} s" in first[1]
    assert len(rest) >= 2 * 10
    for line in (text for _, text in rest):
        assert "img/s" in line and "epoch ETA" in line and "trial ETA" in line
    times = [t for t, _ in rest]
    length = steps * step_s
    for begun in (0.0, length + eval_s):  # within each epoch, from its start to its end
        inside = [begun, *(t for t in times if begun <= t <= begun + length), begun + length]
        assert max(b - a for a, b in itertools.pairwise(inside)) <= 10.0 + 1e-9


def test_short_epochs_print_nothing_between_epochs() -> None:
    progress, lines, stored = recorder()
    epochs_of(progress, epochs=3, steps=10, step_s=0.2, eval_s=0.1)
    assert [text for _, text in lines] == [lines[0][1]]  # only the start-up line
    assert stored == []


def test_the_figures_and_etas() -> None:
    # epoch 2 of 3, 100 steps of 1 s each, epoch 1 (with its evaluation) took 110 s
    report = StepReport(2, 3, 50, 100, 50 * 32, 50.0, 160.0, 3.0)
    p = progress_of(report, now=1000.0)
    assert p["fraction"] == 0.5 and p["images_per_s"] == pytest.approx(32.0)
    assert p["epoch_eta_s"] == pytest.approx(50.0)
    assert p["trial_eta_s"] == pytest.approx(50.0 + 110.0)


def test_the_stored_progress_is_throttled_and_ends_each_epoch_whole() -> None:
    progress, _, stored = recorder()
    steps = 200
    epochs_of(progress, epochs=1, steps=steps, step_s=1.0, eval_s=2.0)
    times = [p["elapsed_s"] for p in stored]
    assert all(b - a >= 20.0 for a, b in itertools.pairwise(times))
    assert len(stored) >= steps // 20 - 1
    progress(type("R", (), {"epoch": 1, "epochs": 1, "elapsed_s": 202.0})())  # the epoch's end
    assert stored[-1]["fraction"] == 1.0 and stored[-1]["trial_eta_s"] == 0.0


def test_the_trainer_calls_on_step_with_its_clock() -> None:
    digits = load_data("digits")
    recipe = Recipe(epochs=2, batch_size=512, lr=0.05, warmup_epochs=0, js_warmup_epochs=1)
    seen: list[StepReport] = []

    class Hooked:
        def __call__(self, report: object) -> None: ...

        def on_step(self, report: StepReport) -> None:
            seen.append(report)

    ticks = iter(range(10_000))
    train(Candidate("resnet", 8, 2, image_size=8, in_channels=1, recipe=recipe), digits,
          callbacks=[Hooked()], clock=lambda: float(next(ticks)))  # fmt: skip
    steps = seen[0].steps
    assert [(r.epoch, r.step) for r in seen] == [
        (e, s) for e in (1, 2) for s in range(1, steps + 1)
    ]
    assert all(r.epoch_s > 0 and r.elapsed_s >= r.epoch_s and r.setup_s > 0 for r in seen)
    assert seen[-1].images == steps * 512


def test_a_running_trials_progress_is_in_frontier_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = make_study(url, trained=2)
    running = start_running(study)
    report = StepReport(3, 120, 520, 1251, 520 * 256, 300.0, 1500.0, 10.0)
    running.set_user_attr(attrs.PROGRESS, progress_of(report, now=0.0))
    assert main(["frontier", "--all", "--storage", url, "--study", "fake"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.lstrip().startswith(str(running.number)))
    assert "running" in row and "epoch 3/120 42%" in row and "trial ETA" in row and "ago" in row


def test_on_a_terminal_a_bar_replaces_the_lines() -> None:
    terminal = io.StringIO()
    lines: list[str] = []
    progress = StepProgress(lines.append, lambda _: None, bar_file=terminal, wall=lambda: 0.0)
    epochs_of(progress, epochs=1, steps=100, step_s=1.0, eval_s=1.0)
    progress(type("R", (), {"epoch": 1, "epochs": 1, "elapsed_s": 101.0})())
    assert len(lines) == 1  # the start-up line only
    assert "epoch 1/1" in terminal.getvalue() and "img/s" in terminal.getvalue()
    assert progress.bar is None  # closed with its epoch
