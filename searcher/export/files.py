"""The human-facing files of an export: manifest.yaml and a README for ONNX Runtime users."""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml

from searcher.study import attrs
from searcher.study.records import TrialRecord
from space.candidate import Candidate
from space.division import divide
from trainers.data import DataSource
from trainers.measure.onnx_graph import INPUT, MEMBER_OUTPUTS, OUTPUTS

if TYPE_CHECKING:
    from searcher.export.verify import Verification


def preprocessing(candidate: Candidate, data: DataSource) -> dict[str, Any]:
    mean, std = data.mean_std
    return {
        "input": INPUT,
        "layout": "NCHW float32",
        "image_size": [candidate.image_size, candidate.image_size],
        "channels": candidate.in_channels,
        "channel_order": "grey" if candidate.in_channels == 1 else "RGB",
        "value_range": [0.0, 1.0],
        "resize": "antialiased bilinear to image_size (square)",
        "normalisation": {"inside_graph": True, "mean": list(mean), "std": list(std)},
    }


def write_manifest(
    folder: Path,
    candidate: Candidate,
    data: DataSource,
    record: TrialRecord,
    verification: Verification,
    context: dict[str, Any],
    members_separate: bool,
    runtime_latency: dict[str, Any],
) -> None:
    a = record.attrs
    manifest = {
        "divco_version": importlib.metadata.version("divco"),
        "torch_version": str(torch.__version__),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "source": context,
        "candidate": candidate.to_dict(),
        "members": [spec.to_dict() for spec in divide(candidate)],
        "aggregation": candidate.recipe.aggregation,
        "outputs": {
            OUTPUTS[0]: "aggregated class scores (argmax = prediction)",
            OUTPUTS[1]: "softmax of the scores",
        },
        "metrics": {
            "accuracy": a.get(attrs.ACCURACY),
            "member_accuracies": a.get(attrs.MEMBER_ACCURACIES),
            "test_accuracy": a.get(attrs.TEST_ACCURACY),
            "gflops": a.get(attrs.GFLOPS),
            "params_m": a.get(attrs.PARAMS_M),
            "latency": a.get(attrs.LATENCY),
            "latency_ms": a.get(attrs.LATENCY_MS),
            "latency_mode": a.get(attrs.LATENCY_MODE),
            "latency_layout": a.get(attrs.LATENCY_LAYOUT),
        },
        "onnxruntime_latency": runtime_latency,
        "preprocessing": preprocessing(candidate, data),
        "class_names": list(data.class_names),
        "verification": dataclasses.asdict(verification),
        "files": {
            "model.onnx": "all members and the aggregation in one graph"
            + (" (members fused: grouped convolutions)" if context.get("graph") == "fused" else ""),
            "ensemble.pt": "PyTorch weights + candidate: trainers.load_checkpoint('ensemble.pt')",
            "candidate.yaml": "the candidate (space.Candidate.from_yaml)",
        },
    }
    if members_separate:
        for i in range(candidate.networks):
            manifest["files"][f"member_{i}.onnx"] = (
                f"member {i} alone: {INPUT} -> {MEMBER_OUTPUTS[0]}"
            )
        manifest["member_aggregation"] = {
            "mean_logits": "scores = mean of the members' logits",
            "mean_prob": "probabilities = mean of the members' softmax",
            "geometric": "scores = mean of the members' log-softmax",
        }[candidate.recipe.aggregation]
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))


README = """# {label}

A divided ensemble of {networks} network(s) exported by divco, with its normalisation and the
`{aggregation}` aggregation inside one ONNX graph. It needs only ONNX Runtime and NumPy:

```python
import numpy as np
import onnxruntime as ort

session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
# images: float32 array, N x {channels} x {size} x {size}, values in [0, 1] ({order}), any N
images = np.random.rand(4, {channels}, {size}, {size}).astype(np.float32)
scores, probabilities = session.run(None, {{"images": images}})
predicted = probabilities.argmax(axis=1)
```

Resize your images to {size} x {size} (antialiased) and divide uint8 pixels by 255; the mean and
standard deviation are applied inside the graph. Class names, metrics (validation accuracy
{accuracy:.4f}, {gflops:.4g} GFLOPs, latency table) and the verification numbers are in
`manifest.yaml`. With divco installed, `trainers.load_checkpoint("ensemble.pt")` rebuilds the
PyTorch ensemble.
"""


def write_readme(folder: Path, candidate: Candidate, data: DataSource) -> None:
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text())
    text = README.format(
        label=candidate.label,
        networks=candidate.networks,
        aggregation=candidate.recipe.aggregation,
        channels=candidate.in_channels,
        size=candidate.image_size,
        order="grey" if candidate.in_channels == 1 else "RGB",
        accuracy=manifest["metrics"]["accuracy"],
        gflops=manifest["metrics"]["gflops"],
    )
    (folder / "README.md").write_text(text)
