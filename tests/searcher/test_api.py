"""The Python API: the same options as `searcher run`, the same config, the front as data."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest

from searcher import api
from searcher.api.options import SearchOptions
from searcher.cli.main import build_parser, main
from searcher.cli.options import options_from
from searcher.study.frontier import pareto_front
from searcher.study.seeds import confirmation_key
from space.errors import ConfigError
from tests.ui.fake_study import make_study


def subcommand(name: str) -> argparse.ArgumentParser:
    return build_parser()._subparsers._group_actions[0].choices[name]  # type: ignore[union-attr]


def option_defaults(name: str) -> dict[str, object]:
    actions = subcommand(name)._actions
    return {a.dest: a.default for a in actions if a.dest not in ("help", "config")}


def test_every_run_option_is_an_api_keyword_with_the_same_default() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(SearchOptions)}
    assert option_defaults("run") == fields


def test_every_compare_option_is_an_api_keyword() -> None:
    fields = {f.name for f in dataclasses.fields(SearchOptions)}
    assert set(option_defaults("compare")) - fields == {"hetero_space"}


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--budget-gflops", "0.5", "--n-trials", "3", "--seed", "4", "--stopping", "median"],
        ["--space-kind", "heterogeneous", "--member-latency-ms", "2", "--latency-reward", "soft"],
        ["--no-pruning", "--init", "wide_then_narrow", "--runs-dir", "elsewhere"],
    ],
)
def test_the_cli_and_the_api_build_the_same_config(argv: list[str]) -> None:
    args = build_parser().parse_args(["run", *argv])
    keywords = {}
    for dest, default in option_defaults("run").items():
        if getattr(args, dest) != default:
            keywords[dest] = getattr(args, dest)
    from_cli = api.search_config(options_from(args))
    assert api.search_config(SearchOptions.from_keywords(keywords)) == from_cli


def test_bad_keywords_are_one_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown option.*budget_gflop.*valid: space"):
        api.search(budget_gflop=3)
    with pytest.raises(ConfigError, match="n_trials must be > 0, not 0"):
        api.search(n_trials=0)
    with pytest.raises(ConfigError, match="asha_eta must be >= 2"):
        SearchOptions(asha_eta=1)
    with pytest.raises(ConfigError, match="stopping must be one of calibrated, asha, median, none"):
        SearchOptions(stopping="asa")  # type: ignore[arg-type]


def fake_study(tmp_path: Path, trained: int = 12) -> str:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = make_study(url, trained=trained)
    study.set_user_attr(confirmation_key(1), {"0": 0.81, "1": 0.79, "2": 0.80})
    return url


def test_front_and_trials_as_data_frames(tmp_path: Path) -> None:
    study = api.open_study(fake_study(tmp_path))  # the only study in the storage
    assert study.name == "fake"
    records = study.records()
    front = study.front()
    assert list(front.index) == [r.number for r in pareto_front(records)]
    assert list(front["accuracy"]) == [r.accuracy for r in pareto_front(records)]
    trials = study.trials()
    assert len(trials) == 12 and {"state", "status", "accuracy", "gflops"} <= set(trials.columns)
    assert trials.loc[3, "label"] == records[3].label


def test_a_point_carries_the_mean_and_spread_of_its_seeds(tmp_path: Path) -> None:
    study = api.open_study(fake_study(tmp_path), "fake")
    confirmed = next(p for p in study.points(every=True) if p["trial"] == 1)
    assert confirmed["seeds"] == {"0": 0.81, "1": 0.79, "2": 0.80}
    assert confirmed["accuracy_mean"] == pytest.approx(0.80)
    assert confirmed["accuracy_std"] == pytest.approx(0.01)
    once = next(p for p in study.points(every=True) if p["trial"] == 2)
    assert once["accuracy_mean"] == once["accuracy"] and once["accuracy_std"] is None


def test_frontier_format_json_prints_the_front_as_a_list_of_points(tmp_path: Path, capsys) -> None:
    url = fake_study(tmp_path)
    assert main(["frontier", "--storage", url, "--format", "json"]) == 0
    points = json.loads(capsys.readouterr().out)
    front = pareto_front(api.open_study(url).records())
    assert [p["trial"] for p in points] == [r.number for r in front]
    first = points[0]
    assert first["label"] == front[0].label and first["candidate"] == front[0].candidate
    assert first["gflops"] == front[0].attrs["gflops"] and first["latency_ms"] is not None
    assert {"accuracy", "accuracy_mean", "accuracy_std", "seeds"} <= set(first)


def test_frontier_format_csv_all_has_one_row_per_trial(tmp_path: Path, capsys) -> None:
    url = fake_study(tmp_path, trained=5)
    assert main(["frontier", "--storage", url, "--all", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(r["trial"]) for r in rows] == [0, 1, 2, 3, 4]
    assert json.loads(rows[1]["seeds"]) == {"0": 0.81, "1": 0.79, "2": 0.80}
    assert json.loads(rows[0]["candidate"])["family"] == "resnet"


def test_a_bad_format_is_one_error_line(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["frontier", "--storage", fake_study(tmp_path), "--format", "xml"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "invalid choice: 'xml'" in err


def test_loading_what_is_not_an_export_is_one_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an export of `searcher export`"):
        api.load_torch(tmp_path)
    with pytest.raises(ConfigError, match="not an export"):
        api.load_onnx(tmp_path)


def test_an_impossible_budget_is_refused_before_anything_is_stored(
    tmp_path: Path, tiny_space: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    with pytest.raises(ConfigError, match="cheapest"):
        api.search(space=str(tiny_space), storage=storage, budget_gflops=1e-9, runs_dir=tmp_path)
    with pytest.raises(ConfigError, match="holds: none"):
        api.open_study(storage)


def test_a_trial_and_a_budget_together_are_one_error_line(tmp_path: Path, capsys) -> None:
    argv = ["export", "--storage", fake_study(tmp_path), "--trial", "0", "--budget-gflops", "1",
            "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "searcher: error: --trial names the trial; budgets choose one with --best\n"
    )
    with pytest.raises(ConfigError, match="unknown budget"):
        api.open_study(f"sqlite:///{tmp_path / 'study.db'}").export("out", budget_flops=1)
