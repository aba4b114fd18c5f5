"""The export's checks: ONNX Runtime against PyTorch on real validation images, and the exported
model's validation accuracy against the one stored with the trial."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from space.errors import DivcoError

TOLERANCE = 1e-4


@dataclass(frozen=True)
class Verification:
    max_abs_diff: float
    onnx_accuracy: float
    stored_accuracy: float
    images: int


def verify(
    path: Path, model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, stored: float
) -> Verification:
    """Raises unless ONNX Runtime matches PyTorch within 1e-4 and the stored accuracy within one image."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    sample = images[:256]
    with torch.no_grad():
        expected = [t.numpy() for t in model(sample)]
    got = session.run(None, {"images": sample.numpy()})
    diff = max(float(np.abs(a - b).max()) for a, b in zip(got, expected, strict=True))
    scores = np.concatenate(
        [
            session.run(None, {"images": images[i : i + 512].numpy()})[0]
            for i in range(0, len(images), 512)
        ]
    )
    accuracy = float((scores.argmax(-1) == labels.numpy()).mean())
    result = Verification(diff, accuracy, stored, len(labels))
    if diff > TOLERANCE:
        raise DivcoError(
            f"export check failed: ONNX Runtime differs from PyTorch by {diff:.2e} (> {TOLERANCE})"
        )
    if abs(accuracy - stored) * len(labels) > 1.0 + 1e-9:
        raise DivcoError(
            f"export check failed: exported accuracy {accuracy:.4f} != stored {stored:.4f}"
        )
    return result
