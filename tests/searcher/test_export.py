from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
import yaml

import searcher.export.artifact
import searcher.export.verify
from searcher.cli.main import main
from searcher.study import attrs
from searcher.study.records import read_records
from space.budget import Budget
from tests.conftest import TINY_SPACE
from trainers import load_checkpoint, load_data
from trainers.measure.onnx_graph import DeployableEnsemble

pytestmark = pytest.mark.slow  # a trained study, ONNX exports

ONNX_ONLY = """
import json, sys
import numpy as np
import onnxruntime as ort
folder = sys.argv[1]
images = np.load(folder + "/images.npy")
session = ort.InferenceSession(folder + "/model.onnx", providers=["CPUExecutionProvider"])
scores, probabilities = session.run(None, {"images": images})
members = []
for i in range(int(sys.argv[2])):
    member = ort.InferenceSession(f"{folder}/member_{i}.onnx", providers=["CPUExecutionProvider"])
    members.append(member.run(None, {"images": images})[0].tolist())
assert not any(name in sys.modules for name in ("torch", "space", "trainers", "searcher"))
print(json.dumps({"scores": scores.tolist(), "probabilities": probabilities.tolist(), "members": members}))
"""


@pytest.fixture(scope="module")
def trained_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("study")
    (root / "tiny.yaml").write_text(TINY_SPACE.replace("epochs: 1", "epochs: 3"))
    storage = f"sqlite:///{root / 'study.db'}"
    args = ["run", "--space", str(root / "tiny.yaml"), "--storage", storage, "--runs-dir", str(root / "runs"),
            "--study", "tiny", "--n-trials", "3", "--no-pruning"]  # fmt: skip
    assert main(args) == 0
    return root, storage


def test_export_runs_under_onnx_runtime_alone_and_matches_pytorch(
    trained_study, tmp_path: Path
) -> None:
    _, storage = trained_study
    out = tmp_path / "export"
    assert (
        main(["export", "--storage", storage, "--best", "--out", str(out), "--members-separate"])
        == 0
    )
    manifest = yaml.safe_load((out / "manifest.yaml").read_text())
    best = max((r for r in read_records(optuna.load_study(study_name="tiny", storage=storage)) if r.status == "trained"),
               key=lambda r: r.accuracy)  # fmt: skip
    assert manifest["source"]["trial"] == best.number
    assert manifest["metrics"]["accuracy"] == best.accuracy
    assert manifest["verification"]["onnx_accuracy"] == pytest.approx(
        best.accuracy, abs=1 / 359 + 1e-9
    )
    assert {"model.onnx", "ensemble.pt", "candidate.yaml", "manifest.yaml", "README.md"} <= {
        p.name for p in out.iterdir()
    }

    candidate, ensemble = load_checkpoint(out / "ensemble.pt")
    data = load_data("digits")
    images = data.val.resized(candidate.image_size).float().div(255)
    np.save(out / "images.npy", images.numpy())
    result = subprocess.run([sys.executable, "-c", ONNX_ONLY, str(out), str(candidate.networks)],
                            capture_output=True, text=True, check=True)  # fmt: skip
    onnx = json.loads(result.stdout)
    mean, std = data.mean_std
    with torch.no_grad():
        scores, probabilities = DeployableEnsemble(ensemble, mean, std).eval()(images)
    assert np.abs(np.array(onnx["scores"]) - scores.numpy()).max() < 1e-4
    assert np.abs(np.array(onnx["probabilities"]) - probabilities.numpy()).max() < 1e-4
    accuracy = (np.array(onnx["scores"]).argmax(1) == data.val.labels.numpy()).mean()
    assert abs(accuracy - best.accuracy) * len(data.val) <= 1
    member_mean = np.mean(np.array(onnx["members"]), axis=0)  # mean_logits, from the separate files
    assert np.abs(member_mean - np.array(onnx["scores"])).max() < 1e-4


def test_export_refuses_a_non_empty_directory_unless_forced(
    trained_study, tmp_path: Path, capsys
) -> None:
    _, storage = trained_study
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["export", "--storage", storage, "--best", "--out", str(out)]) == 2
    assert "exists and is not empty; use --force" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert main(["export", "--storage", storage, "--best", "--out", str(out), "--force"]) == 0
    assert (out / "model.onnx").is_file() and not (out / "keep.txt").exists()


def test_trials_without_checkpoint_and_impossible_budgets_are_refused(
    trained_study, tmp_path: Path, capsys
) -> None:
    _, storage = trained_study
    study = optuna.load_study(study_name="tiny", storage=storage)
    study.add_trial(
        optuna.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={attrs.STATUS: "failed"})
    )
    untrained = next(r for r in read_records(study) if r.status != "trained")
    out = tmp_path / "never"
    assert (
        main(["export", "--storage", storage, "--trial", str(untrained.number), "--out", str(out)])
        == 2
    )
    assert f"trial {untrained.number} has no checkpoint" in capsys.readouterr().err
    assert (
        main(
            ["export", "--storage", storage, "--best", "--budget-gflops", "1e-9", "--out", str(out)]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert (
        "no trained trial fits 1e-09 GFLOPs; the cheapest is trial" in err
        and len(err.strip().splitlines()) == 1
    )
    assert main(["export", "--storage", storage, "--trial", "999", "--out", str(out)]) == 2
    assert not out.exists()


def test_a_failed_verification_leaves_nothing_behind(
    trained_study, tmp_path: Path, monkeypatch, capsys
) -> None:
    _, storage = trained_study
    monkeypatch.setattr(searcher.export.verify, "TOLERANCE", -1.0)
    out = tmp_path / "out"
    assert main(["export", "--storage", storage, "--best", "--out", str(out)]) == 2
    assert "export check failed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_best_respects_the_budget(trained_study, tmp_path: Path) -> None:
    _, storage = trained_study
    trained = [
        r
        for r in read_records(optuna.load_study(study_name="tiny", storage=storage))
        if r.status == "trained"
    ]
    cheapest = min(trained, key=lambda r: r.attrs[attrs.GFLOPS])
    budget = cheapest.attrs[attrs.GFLOPS] * 1.0001
    chosen = searcher.export.artifact.pick_trial(trained, None, Budget(gflops=budget))
    assert chosen.attrs[attrs.GFLOPS] <= budget
    assert chosen.accuracy == max(r.accuracy for r in trained if r.attrs[attrs.GFLOPS] <= budget)


def test_a_divided_trial_exports_fused_and_matches_the_members_ensemble(
    trained_study, tmp_path: Path, capsys
) -> None:
    """model.onnx is the fused graph; ONNX Runtime equals the per-member PyTorch ensemble."""
    _, storage = trained_study
    records = read_records(optuna.load_study(study_name="tiny", storage=storage))
    divided = next(
        r for r in records if r.status == "trained" and r.candidate.get("networks", 1) > 1
    )
    out = tmp_path / "fused"
    assert (
        main(["export", "--storage", storage, "--trial", str(divided.number), "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "fused into one grouped-convolution network" in printed
    assert "ONNX Runtime latency (CPUExecutionProvider): batch 1:" in printed
    manifest = yaml.safe_load((out / "manifest.yaml").read_text())
    assert manifest["source"]["graph"] == "fused"
    assert manifest["metrics"]["latency_mode"] in ("concurrent", "fused")
    rows = manifest["onnxruntime_latency"]["rows"]
    throughput = max(row["batch"] for row in divided.attrs[attrs.LATENCY]["rows"])
    assert {(row["mode"], row["batch"]) for row in rows} == {
        ("sequential", 1),
        ("sequential", throughput),
    }
    assert all(row["median_ms"] > 0 for row in rows)

    import onnxruntime as ort

    candidate, ensemble = load_checkpoint(out / "ensemble.pt")
    data = load_data("digits")
    images = data.val.resized(candidate.image_size).float().div(255)
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    scores = session.run(None, {"images": images.numpy()})[0]
    with torch.no_grad():
        expected, _ = DeployableEnsemble(ensemble, *data.mean_std).eval()(images)
    assert np.abs(scores - expected.numpy()).max() <= 1e-4
    assert manifest["verification"]["max_abs_diff"] <= 1e-4
    accuracy = (scores.argmax(1) == data.val.labels.numpy()).mean()
    assert abs(accuracy - divided.accuracy) * len(data.val) <= 1
