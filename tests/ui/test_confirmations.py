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


def test_the_frontier_tab_states_the_front_on_seed_means_with_ties(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from streamlit.testing.v1 import AppTest

    from searcher.study.frontier import pareto_front
    from tests.ui.fake_study import make_study
    from ui.data import load_records

    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = make_study(url, trained=8)
    records = load_records(url, "fake")
    top = max(records, key=lambda r: r.accuracy)
    # the most accurate trial's one run was luck: its mean over 3 seeds drops 5 points
    study.set_user_attr(confirmation_key(top.number), {"0": top.accuracy, "1": top.accuracy - 0.075, "2": top.accuracy - 0.075})  # fmt: skip
    records = load_records(url, "fake")
    front = [r.number for r in pareto_front(records)]
    assert top.number not in front or records[top.number].attrs[attrs.CONFIRM_MEAN] < top.accuracy
    monkeypatch.setattr(sys, "argv", ["app.py", "--storage", url, "--study", "fake"])
    app = AppTest.from_file(str(Path(charts.__file__).with_name("app.py")), default_timeout=60)
    app.run()
    assert not app.exception
    markdown = " ".join(m.value for m in app.markdown)
    assert "Pareto front:" in markdown and "on seed means" in markdown
    table = app.table[0].value
    assert {"seeds", "tie with"} <= set(table.columns)
    assert list(table.index) == front
    best = next(m for m in app.metric if m.label.startswith("best within budget"))
    assert float(best.value) == pytest.approx(max(r.attrs.get(attrs.CONFIRM_MEAN, r.accuracy) for r in records), abs=1e-4)  # fmt: skip
