from __future__ import annotations

from pathlib import Path

import optuna
import pytest

import searcher.run.trial_run
from searcher.cli.main import main
from searcher.study import attrs
from searcher.study.records import read_records
from space import Candidate
from space.budget import mnas_reward
from space.cost import estimate
from tests.searcher.test_run import TRAINED_ATTRS
from trainers.measure.latency import LatencyRow, LatencyTable

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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_hard_member_latency_rejects_before_training(
    tmp_path: Path, hetero_args, capsys, monkeypatch, without_anchor: None
) -> None:
    # No member can run in a nanosecond: refused at once, naming what was measured.
    assert main([*hetero_args, "--n-trials", "1", "--member-latency-ms", "1e-6"]) == 2
    err = capsys.readouterr().err
    assert "no candidate of space 'hetero' fits slowest member 1e-06 ms (hard)" in err
    assert "slowest member, batch 1" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "study.db").exists()
    # Measured latency is injected: 1 ms per MFLOP of the member (ResNet-8 w2 at 16 px: 0.03
    # ms; WRN-10-4: ~42 ms), so a 1 ms limit keeps only the all-ResNet ensemble on any machine,
    # and the others are recorded infeasible without training.
    monkeypatch.setattr(searcher.run.trial_run, "measure_latency", latency_by_cost)
    spread = HETERO_SPACE.replace("widths: [2, 4]", "widths: [2]").replace(
        "widths: [1]", "widths: [4]"
    )
    (tmp_path / "hetero.yaml").write_text(spread.replace("image_sizes: [8]", "image_sizes: [16]"))
    assert main([*hetero_args, "--n-trials", "1", "--member-latency-ms", "1.0"]) == 0
    study = optuna.load_study(study_name="hetero", storage=f"sqlite:///{tmp_path / 'study.db'}")
    records = read_records(study)
    trained = [r for r in records if r.status == "trained"]
    assert [Candidate.from_dict(r.candidate).label for r in trained] == [
        "[ResNet-8 w2 + ResNet-8 w2] @16px"
    ]
    infeasible = [r for r in records if r.status == "infeasible"]
    assert infeasible  # the sampler proposed ensembles with a WRN-10-4 member first
    for record in infeasible:
        assert "slowest member" in record.attrs[attrs.OVER_BUDGET][0]
        assert attrs.ACCURACY not in record.attrs


def latency_by_cost(candidate: Candidate, batches, device, **kwargs) -> LatencyTable:
    """A stand-in measurement: 1 ms per MFLOP of each member, the same on every machine."""
    member_ms = [1e3 * m.gflops for m in estimate(candidate).members]
    rows = []
    for batch in batches:
        ms = {
            "sequential": sum(member_ms), "concurrent": max(member_ms),
            "undivided": member_ms[0], "slowest_member": max(member_ms),
        }  # fmt: skip
        rows += [LatencyRow(mode, batch, v * batch, v * batch, 5) for mode, v in ms.items()]
    return LatencyTable("fake", tuple(rows))


def test_space_kind_must_match_the_space(hetero_args, capsys) -> None:
    args = [a if a != "heterogeneous" else "homogeneous" for a in hetero_args]
    assert main([*args, "--n-trials", "1"]) == 2
    assert "is heterogeneous, not homogeneous" in capsys.readouterr().err


@pytest.mark.slow
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
