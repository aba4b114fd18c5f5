"""Every tab of the dashboard runs without an exception (Streamlit's AppTest, no browser)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import TrainedStudy
from tests.ui.fake_study import finish, make_study, start_running

APP = str(Path(__file__).resolve().parents[2] / "ui" / "app.py")


def run_app(monkeypatch: pytest.MonkeyPatch, *argv: str) -> AppTest:
    monkeypatch.setattr(sys, "argv", ["app.py", *argv])
    app = AppTest.from_file(APP, default_timeout=60)
    return app.run()


@pytest.mark.slow
def test_all_tabs_render_a_stored_study(tiny_study: TrainedStudy, monkeypatch) -> None:
    app = run_app(monkeypatch, "--storage", tiny_study.storage, "--study", tiny_study.name)
    assert not app.exception
    assert len(app.tabs) == 4
    markdown = " ".join(m.value for m in app.markdown)
    assert "Pareto front:" in markdown and "Export it" in markdown
    codes = " ".join(c.value for c in app.code)
    assert "searcher export --storage" in codes and "--trial" in codes
    # every cost axis renders
    for axis in app.sidebar.selectbox[1].options:
        app.sidebar.selectbox[1].select(axis).run()
        assert not app.exception


def test_empty_and_unreachable_storages_say_so(tmp_path: Path, monkeypatch) -> None:
    import optuna

    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    optuna.storages.RDBStorage(empty)
    app = run_app(monkeypatch, "--storage", empty)
    assert not app.exception and "no study yet" in app.warning[0].value
    app = run_app(monkeypatch, "--storage", "postgresql://nobody@127.0.0.1:1/none")
    assert not app.exception and "Cannot read storage" in app.error[0].value


@pytest.mark.slow
def test_a_trial_finished_between_two_runs_appears_after_the_second(
    tmp_path: Path, monkeypatch
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = make_study(url, trained=6)
    running = start_running(study)
    app = run_app(monkeypatch, "--storage", url, "--study", "fake")
    assert not app.exception
    assert "7 trials" in app.caption[0].value
    trained = next(m for m in app.metric if m.label == "trained")
    assert trained.value == "6"
    finish(study, running)
    app.run()
    assert not app.exception
    assert next(m for m in app.metric if m.label == "trained").value == "7"
    trial_numbers = app.dataframe[0].value["trial"].tolist()  # the detail tab's trial table
    assert running.number in trial_numbers


def test_divide_tab_names_networks_like_candidates(tmp_path: Path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    make_study(url, trained=9)
    app = run_app(monkeypatch, "--storage", url, "--study", "fake")
    assert not app.exception
    divide = next(t for t in app.table if "latency_concurrent_b1" in t.value.columns)
    bases = {base for base, _ in divide.value.index}
    assert bases == {"ResNet-8 w4 @8px"}  # Candidate.label without S: no floats
    assert set(divide.value["latency_how"]) == {"concurrent, channels_last"}  # how latency_ms ran
    assert divide.value["latency_ms"].map(float).gt(0).all()
