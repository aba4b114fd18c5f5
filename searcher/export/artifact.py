"""`searcher export`: the chosen trial's divided ensemble as an artifact that runs without divco.

Writes into a temporary sibling directory, verifies it (ONNX Runtime against PyTorch on real
validation images, and the exported model's validation accuracy against the stored one), and
only then renames it to the requested directory: a failed export leaves nothing behind.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from searcher.export.choice import describe_choice, pick_trial, tied_with
from searcher.export.files import write_manifest, write_readme
from searcher.export.verify import Verification, verify
from searcher.run.loop import SPLIT_SEED
from searcher.study import attrs
from searcher.study.open import load_existing_study
from searcher.study.records import TrialRecord, read_records
from searcher.study.storage import open_storage, redact
from space.budget import Budget
from space.candidate import Candidate
from space.errors import ConfigError
from trainers.data import DataSource, load_data
from trainers.measure.onnx_graph import (
    MEMBER_OUTPUTS,
    OUTPUTS,
    DeployableEnsemble,
    Normalised,
    write_onnx,
)
from trainers.measure.runtime_latency import ExecutionMode, describe, onnxruntime_latency
from trainers.train.checkpoint import load_checkpoint, save_checkpoint
from trainers.train.ensemble import Ensemble
from trainers.train.fused import NotFusableError, fusable, fuse, probe_input

Graph = Literal["fused", "members"]  # model.onnx: one grouped network, or S member branches
THROUGHPUT_BATCH = 64  # when the trial has no latency table to take it from


@dataclass(frozen=True)
class ExportRequest:
    storage: str
    study: str | None
    out: Path
    trial: int | None = None
    budget: Budget | None = None  # with trial None: the most accurate trial within it
    data_dir: str | None = None
    force: bool = False
    members_separate: bool = False
    runs_dir: Path | None = None  # where an image folder's index is cached (as `searcher run`)


def check_out_dir(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ConfigError(
            f"output directory {out} exists and is not empty; use --force to replace it"
        )


def export(request: ExportRequest, out: Callable[[str], None] = print) -> Verification:
    check_out_dir(request.out, request.force)
    study = load_existing_study(open_storage(request.storage), request.study)
    records = read_records(study)
    record = pick_trial(records, request.trial, request.budget)
    if request.trial is None:
        for line in describe_choice(record, tied_with(records, record, request.budget)):
            out(line)
    path = Path(record.attrs[attrs.CHECKPOINT])
    if not path.is_file():
        raise ConfigError(f"checkpoint {path} of trial {record.number} is missing")
    candidate, ensemble = load_checkpoint(path)
    data = load_data(
        study.user_attrs[attrs.DATA], request.data_dir, seed=SPLIT_SEED, cache_dir=request.runs_dir
    )
    out(f"exporting trial {record.number}: {record.label}, accuracy {record.accuracy:.4f}")
    request.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{request.out.name}.", dir=request.out.parent))
    try:
        verification, graph = _write_and_verify(staging, candidate, ensemble, data, record, request)
        runtime = _runtime_latency(staging / "model.onnx", candidate, record, graph)
        context = {
            "study": study.study_name,
            "storage": redact(request.storage),
            "trial": record.number,
            "graph": graph,
        }
        write_manifest(
            staging, candidate, data, record, verification, context, request.members_separate,
            runtime,
        )  # fmt: skip
        write_readme(staging, candidate, data)
        if request.out.exists():
            shutil.rmtree(request.out)
        staging.rename(request.out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for file in sorted(request.out.iterdir()):
        out(f"  {file.name:<24} {file.stat().st_size / 1e6:8.3f} MB")
    out(f"verified: ONNX Runtime vs PyTorch max |diff| {verification.max_abs_diff:.2e} on "
        f"{min(256, verification.images)} images; accuracy {verification.onnx_accuracy:.4f} "
        f"(stored {verification.stored_accuracy:.4f}, {verification.images} validation images)")  # fmt: skip
    out(f"model.onnx: {GRAPH_TEXT[graph]}; {describe(runtime)}")
    return verification


GRAPH_TEXT: dict[Graph, str] = {
    "fused": "the members fused into one grouped-convolution network",
    "members": "one branch per member",
}


def _runtime_latency(
    path: Path, candidate: Candidate, record: TrialRecord, graph: Graph
) -> dict[str, Any]:
    """ONNX Runtime latency at batch 1 and the trial's throughput batch; the parallel execution
    mode only where the members are parallel branches of the graph."""
    rows = (record.attrs.get(attrs.LATENCY) or {}).get("rows") or [{"batch": THROUGHPUT_BATCH}]
    batches = sorted({1, max(row["batch"] for row in rows)})
    modes: tuple[ExecutionMode, ...] = (
        ("sequential", "parallel") if graph == "members" and candidate.networks > 1
        else ("sequential",)
    )  # fmt: skip
    size = candidate.image_size
    return onnxruntime_latency(path, (candidate.in_channels, size, size), batches, modes)


def deployable_graph(
    candidate: Candidate, ensemble: Ensemble, mean: Sequence[float], std: Sequence[float],
    members_separate: bool,
) -> tuple[DeployableEnsemble, Graph]:  # fmt: skip
    """The fused members where the candidate allows it, else (or when asked) the members."""
    if not members_separate and fusable(candidate):
        example = probe_input(candidate)
        try:
            fused = fuse(list(ensemble.members), example, candidate.recipe.aggregation)
            return DeployableEnsemble(fused, mean, std).eval(), "fused"
        except NotFusableError:
            pass
    return DeployableEnsemble(ensemble, mean, std).eval(), "members"


def _write_and_verify(
    folder: Path, candidate: Candidate, ensemble: Ensemble, data: DataSource, record: TrialRecord,
    request: ExportRequest,
) -> tuple[Verification, Graph]:  # fmt: skip
    """Writes the files; the check compares model.onnx with the per-member PyTorch ensemble."""
    mean, std = data.mean_std
    reference = DeployableEnsemble(ensemble, mean, std).eval()
    graph_model, graph = deployable_graph(candidate, ensemble, mean, std, request.members_separate)
    images = data.val.resized(candidate.image_size).float().div(255)
    write_onnx(graph_model, folder / "model.onnx", images[:2], OUTPUTS)
    save_checkpoint(folder / "ensemble.pt", candidate, ensemble)
    (folder / "candidate.yaml").write_text(candidate.to_yaml())
    if request.members_separate:
        for i, member in enumerate(ensemble.members):
            write_onnx(
                Normalised(member, mean, std),
                folder / f"member_{i}.onnx",
                images[:2],
                MEMBER_OUTPUTS,
            )
    labels = data.val.labels
    return verify(folder / "model.onnx", reference, images, labels, record.accuracy), graph
