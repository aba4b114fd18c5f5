from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from searcher.cli.main import main
from searcher.study import attrs
from searcher.study.records import read_records
from space import Candidate
from space.budget import mnas_reward
from tests.searcher.test_run import TRAINED_ATTRS

HETERO_SPACE = """
kind: heterogeneous
families:
  resnet: {depths: [8], widths: [2, 4]}
  wide_resnet: {depths: [10], widths: [1]}
networks: [2]
image_sizes: [8]
recipe: {epochs: 1, batch_size: 128, lr: 0.05, warmup_epochs: 0, mode: independent, augmentation: crop}
"""


@pytest.fixture
def hetero_args(tmp_path: Path) -> list[str]:
    (tmp_path / "hetero.yaml").write_text(HETERO_SPACE)
    return ["run", "--space", str(tmp_path / "hetero.yaml"), "--space-kind", "heterogeneous",
            "--storage", f"sqlite:///{tmp_path / 'study.db'}", "--runs-dir", str(tmp_path / "runs"),
            "--study", "hetero", "--no-pruning"]  # fmt: skip


def test_tiny_heterogeneous_search_stores_the_documented_attributes(
    tmp_path: Path, hetero_args
) -> None:
    assert main([*hetero_args, "--n-trials", "2"]) == 0
    study = optuna.load_study(study_name="hetero", storage=f"sqlite:///{tmp_path / 'study.db'}")
    trained = [r for r in read_records(study) if r.status == "trained"]
    assert len(trained) == 2
    for record in trained:
        assert set(record.attrs) >= TRAINED_ATTRS
        candidate = Candidate.from_dict(record.candidate)
        assert len(candidate.members) == 2 == len(record.attrs[attrs.MEMBER_ACCURACIES])
        assert record.attrs[attrs.SLOWEST_MEMBER_MS] > 0
        assert candidate.recipe.mode == "independent"


def test_soft_latency_reward_is_the_first_objective(tmp_path: Path, hetero_args) -> None:
    args = [
        *hetero_args,
        "--n-trials",
        "1",
        "--member-latency-ms",
        "0.05",
        "--latency-reward",
        "soft",
    ]
    assert main(args) == 0
    study = optuna.load_study(study_name="hetero", storage=f"sqlite:///{tmp_path / 'study.db'}")
    trial = next(t for t in study.trials if t.user_attrs.get(attrs.STATUS) == "trained")
    a = trial.user_attrs
    assert a[attrs.REWARD] == pytest.approx(
        mnas_reward(a[attrs.ACCURACY], a[attrs.SLOWEST_MEMBER_MS], 0.05)
    )
    assert a[attrs.REWARD] < a[attrs.ACCURACY]  # slower than the target: penalised
    assert trial.values[0] == a[attrs.REWARD]


def test_hard_member_latency_rejects_before_training(tmp_path: Path, hetero_args, capsys) -> None:
    # No member can run in a nanosecond: refused at once, naming what was measured.
    assert main([*hetero_args, "--n-trials", "1", "--member-latency-ms", "1e-6"]) == 2
    err = capsys.readouterr().err
    assert "no candidate of space 'hetero' fits slowest member 1e-06 ms (hard)" in err
    assert "slowest member, batch 1" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "study.db").exists()
    # ResNet-8 w2 members run in ~0.3 ms, WRN-10-4 members in ~3 ms: a 1 ms limit keeps only
    # the all-ResNet ensemble, and the others are recorded infeasible without training.
    spread = HETERO_SPACE.replace("widths: [2, 4]", "widths: [2]").replace(
        "widths: [1]", "widths: [4]"
    )
    (tmp_path / "hetero.yaml").write_text(spread.replace("image_sizes: [8]", "image_sizes: [16]"))
    assert (
        main([*hetero_args, "--n-trials", "1", "--timeout", "30", "--member-latency-ms", "1.0"])
        == 0
    )
    study = optuna.load_study(study_name="hetero", storage=f"sqlite:///{tmp_path / 'study.db'}")
    records = read_records(study)
    trained = [r for r in records if r.status == "trained"]
    assert [Candidate.from_dict(r.candidate).label for r in trained] == [
        "[ResNet-8 w2 + ResNet-8 w2] @16px"
    ]
    for record in records:
        if record.status == "infeasible":
            assert (
                "slowest member" in record.attrs[attrs.OVER_BUDGET][0]
                and attrs.ACCURACY not in record.attrs
            )


def test_space_kind_must_match_the_space(hetero_args, capsys) -> None:
    args = [a if a != "heterogeneous" else "homogeneous" for a in hetero_args]
    assert main([*args, "--n-trials", "1"]) == 2
    assert "is heterogeneous, not homogeneous" in capsys.readouterr().err


def test_compare_runs_the_four_series_and_prints_their_best(
    tmp_path: Path, tiny_space: Path, capsys
) -> None:
    (tmp_path / "hetero.yaml").write_text(HETERO_SPACE)
    args = ["compare", "--space", str(tiny_space), "--hetero-space", str(tmp_path / "hetero.yaml"),
            "--storage", f"sqlite:///{tmp_path / 'cmp.db'}", "--runs-dir", str(tmp_path / "runs"),
            "--n-trials", "1", "--no-pruning", "--budget-gflops", "0.01"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    table = out[out.index("best accuracy of each series") :]
    for series in (
        "single network",
        "divided, co-trained",
        "independent ensemble",
        "heterogeneous ensemble",
    ):
        assert series in table
    names = optuna.study.get_all_study_names(f"sqlite:///{tmp_path / 'cmp.db'}")
    assert sorted(names) == sorted(
        f"digits-compare-{s}" for s in ("single", "cotrain", "independent", "heterogeneous")
    )
