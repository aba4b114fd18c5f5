from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from searcher.cli.main import main


def run_cli(argv: list[str]) -> int | str | None:
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--budget-gflops", "-1"], "argument --budget-gflops: -1 must be > 0"),
        (["--budget-gflops", "0"], "argument --budget-gflops: 0 must be > 0"),
        (["--budget-params-m", "lots"], "'lots' is not a number"),
        (["--budget-latency-ms", "-3"], "-3 must be > 0"),
        (["--n-trials", "0"], "0 must be >= 1"),
        (["--space", "nope"], "unknown space preset 'nope'; valid: cifar, cifar-hetero, digits, digits-hetero, imagenet"),
        (["--data", "mnist"], "unknown data set 'mnist'; valid: cifar10, cifar100, digits, imagefolder"),
        (["--data", "cifar10"], "data set 'cifar10' needs --data-dir"),
        (["--data", "cifar10", "--data-dir", "/no/such/dir"], "data directory /no/such/dir does not exist"),
        (["--budget-gflops", "1e-9"], "no candidate of space 'tiny' fits 1e-09 GFLOPs; the cheapest is ResNet-8 w2 S=2 @8px at 8.496e-06 GFLOPs"),
        (["--storage", "postgresql://nobody@127.0.0.1:1/none"], "cannot open storage postgresql://nobody@127.0.0.1:1/none"),
        (["--storage", "notadb://x"], "cannot open storage notadb://x"),
        (["--device", "gpu"], "unknown device 'gpu'; use cpu, cuda, cuda:N or auto"),
        (["--device", "cuda:7"], "device 'cuda:7' does not exist; this machine has"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_line_and_writes_nothing(
    tmp_path: Path,
    run_args: list[str],
    extra: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli([*run_args, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists()
    if "--storage" not in extra:  # nothing was created in the storage either
        assert not (tmp_path / "study.db").exists()


@pytest.mark.slow
def test_a_study_is_never_resumed_with_another_space(
    tmp_path: Path, run_args: list[str], tiny_space: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*run_args, "--n-trials", "1"]) == 0
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    before = len(optuna.load_study(study_name="tiny", storage=storage).trials)
    tiny_space.write_text(tiny_space.read_text().replace("networks: [1, 2]", "networks: [1, 2, 4]"))
    capsys.readouterr()
    assert main([*run_args, "--n-trials", "1"]) == 2
    err = capsys.readouterr().err
    assert "study 'tiny' was created with space_fingerprint" in err and "use another --study" in err
    assert len(optuna.load_study(study_name="tiny", storage=storage).trials) == before


def test_malformed_config_file_is_refused(tmp_path: Path, run_args: list[str], capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("n-trials: [1\n")
    assert run_cli([*run_args, "--config", str(bad)]) == 2
    assert "is malformed YAML" in capsys.readouterr().err
    bad.write_text("trials: 3\n")
    assert run_cli([*run_args, "--config", str(bad)]) == 2
    assert "unknown option(s) trials; valid:" in capsys.readouterr().err
    bad.write_text("sampler: bogus\n")  # a config value skips argparse's choices
    assert run_cli([*run_args, "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "sampler must be one of front, tpe, not 'bogus'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "study.db").exists()  # refused before any study was opened


@pytest.mark.slow
def test_frontier_of_a_missing_study_lists_what_exists(
    tmp_path: Path, run_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*run_args, "--n-trials", "1"]) == 0
    capsys.readouterr()
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    assert main(["frontier", "--storage", storage, "--study", "other"]) == 2
    assert "no study 'other' in the storage; it holds: tiny" in capsys.readouterr().err
