"""The dashboard's data shows running trials with their epoch, progress and ETA."""

from __future__ import annotations

from pathlib import Path

from searcher.run.step_progress import progress_of
from searcher.study import attrs
from tests.ui.fake_study import finish, make_study, start_running
from trainers.train.cotrain import StepReport
from ui.data import running_table
from ui.reader import StorageReader


def test_a_running_trial_shows_its_progress_and_a_finished_one_does_not(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = make_study(url, trained=3)
    running, starting = start_running(study), start_running(study)
    report = StepReport(3, 120, 520, 1251, 520 * 256, 300.0, 1500.0, 10.0)
    running.set_user_attr(attrs.PROGRESS, progress_of(report, now=1000.0))
    reader = StorageReader(url).study("fake")
    reader.refresh()
    table = running_table(reader.frame(), now=1012.0)
    assert list(table["trial"]) == [running.number, starting.number]
    row = table.iloc[0]
    assert row["progress"].startswith("epoch 3/120 42%") and "img/s" in row["progress"]
    assert row["trial ETA"].endswith("m") and row["updated"] == "12 s ago"
    assert table.iloc[1]["progress"] == "starting"

    revision = reader.revision
    running.set_user_attr(attrs.PROGRESS, progress_of(report, now=1030.0))
    assert reader.refresh() == revision + 1  # new figures: the page redraws
    finish(study, running)
    reader.refresh()
    assert list(running_table(reader.frame(), now=1040.0)["trial"]) == [starting.number]
