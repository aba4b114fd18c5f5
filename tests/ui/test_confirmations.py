"""Seed confirmations in the dashboard: error bars, and a refresh that sees new seeds."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
import pytest

from searcher.study import attrs
from searcher.study.seeds import confirmation_key
from ui import charts
from ui.reader import StudyReader, open_readonly


def stored_study(url: str) -> optuna.Study:
    study = optuna.create_study(storage=url, study_name="s", directions=["maximize", "minimize"])
    for number in range(2):
        values = {attrs.STATUS: "trained", attrs.LABEL: f"net {number}", attrs.SEED: 0,
                  attrs.ACCURACY: 0.8 + number / 10, attrs.GFLOPS: 0.001 * (number + 1),
                  attrs.CANDIDATE: {"family": "resnet", "networks": 1, "width": 4}}  # fmt: skip
        study.add_trial(
            optuna.trial.create_trial(
                values=[values[attrs.ACCURACY], values[attrs.GFLOPS]], user_attrs=values
            )
        )
    return study


def test_a_refresh_picks_up_confirmations_of_finished_trials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = stored_study(url)
    reader = StudyReader(open_readonly(url), "s")
    first = reader.refresh()
    assert reader.frame()["confirm_mean"].isna().all()
    study.set_user_attr(confirmation_key(1), {"0": 0.9, "1": 0.8})
    assert reader.refresh() == first + 1  # finished trials are not re-read, the seeds are
    frame = reader.frame().set_index("trial")
    assert (
        frame.loc[1, "confirm_mean"] == pytest.approx(0.85) and frame.loc[1, "confirm_seeds"] == 2
    )
    assert pd.isna(frame.loc[0, "confirm_mean"])
    assert reader.refresh() == first + 1  # nothing new: the same revision

    frame = reader.frame()
    chart = charts.frontier_chart(frame, frame, "gflops", "GFLOPs", None, frame.iloc[:0])
    marks = [
        layer.mark if isinstance(layer.mark, str) else layer.mark.type for layer in chart.layer
    ]
    assert "rule" in marks and "tick" in marks  # the error bar and its mean
