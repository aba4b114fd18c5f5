"""Exported ensembles: writing one (`searcher export`) and loading it back, as a PyTorch module
or an ONNX Runtime session that take the same images and give the same outputs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml
from torch import nn

from space.candidate import Candidate
from space.errors import ConfigError

if TYPE_CHECKING:
    import onnxruntime

    from space.budget import Budget

BUDGET_KEYWORDS = ("budget_gflops", "budget_params_m", "budget_latency_ms")


def budget_from_keywords(keywords: dict[str, float]) -> Budget | None:
    """`budget_gflops=` and its siblings as a Budget (None: no budget given)."""
    from space.budget import Budget

    unknown = sorted(set(keywords) - set(BUDGET_KEYWORDS))
    if unknown:
        raise ConfigError(f"unknown budget(s) {', '.join(unknown)}; valid: {', '.join(BUDGET_KEYWORDS)}")  # fmt: skip
    budget = Budget(**{k.removeprefix("budget_"): v for k, v in keywords.items()})
    return None if budget.is_unbounded else budget


def export_trial(
    storage: str,
    study: str | None,
    out: Path,
    trial: int | None = None,
    *,
    budget: Budget | None = None,
    data_dir: str | None = None,
    force: bool = False,
    members_separate: bool = False,
    runs_dir: Path | None = None,
) -> Path:
    """Writes and verifies the export into `out` (the named trial, else the most accurate one
    within `budget`); nothing is left behind when a check fails."""
    if trial is not None and budget is not None:
        raise ConfigError("--trial names the trial; budgets choose one with --best")
    from searcher.export.artifact import ExportRequest, export

    request = ExportRequest(
        storage=storage, study=study, out=out, trial=trial, budget=budget, data_dir=data_dir,
        force=force, members_separate=members_separate, runs_dir=runs_dir,
    )  # fmt: skip
    export(request)
    return out


class ExportedEnsemble(nn.Module):
    """model.onnx's computation in PyTorch: float images N x C x H x W in [0, 1] at
    `image_size` (normalised inside) -> (scores, probabilities), as the ONNX graph's outputs."""

    def __init__(self, candidate: Candidate, model: nn.Module, manifest: dict[str, Any]) -> None:
        super().__init__()
        self.candidate = candidate
        self.model = model.eval()
        self.class_names: list[str] = list(manifest.get("class_names", []))
        self.image_size: int = candidate.image_size
        self.channels: int = candidate.in_channels

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(images)


def _folder(path: str | Path) -> Path:
    folder = Path(path)
    folder = folder.parent if folder.is_file() else folder
    if not (folder / "manifest.yaml").is_file():
        raise ConfigError(f"{path} is not an export of `searcher export` (no manifest.yaml)")
    return folder


def load_torch(path: str | Path, device: str = "cpu") -> ExportedEnsemble:
    """The exported ensemble (a folder written by `searcher export`, or its ensemble.pt) as a
    PyTorch module in eval mode."""
    from trainers.measure.onnx_graph import DeployableEnsemble
    from trainers.train.checkpoint import load_checkpoint

    folder = _folder(path)
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text())
    candidate, ensemble = load_checkpoint(folder / "ensemble.pt", device=device)
    norm = manifest["preprocessing"]["normalisation"]
    model = DeployableEnsemble(ensemble, norm["mean"], norm["std"]).to(device)
    return ExportedEnsemble(candidate, model, manifest).eval()


def load_onnx(path: str | Path) -> onnxruntime.InferenceSession:
    """The exported model.onnx (a folder written by `searcher export`, or the file) as an ONNX
    Runtime session on the CPU: `session.run(None, {"images": array})` -> [scores, probabilities]."""
    import onnxruntime

    file = Path(path)
    file = file if file.suffix == ".onnx" else _folder(path) / "model.onnx"
    if not file.is_file():
        raise ConfigError(f"{file} does not exist")
    return onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
