"""The deployable graph: normalisation, the S members and the aggregation in one ONNX model.

The members are either S branches of the graph or fused into one grouped-convolution network
(`trainers.train.fused`); both compute the same outputs.

Input `images`: float32 N x C x H x W in [0, 1] (uint8 / 255), at the candidate's image size,
in the data set's channel order; normalisation happens inside the graph. Outputs `scores`
(the aggregated class scores: mean logits, log of the mean softmax, or mean log-softmax) and
`probabilities` (softmax of the scores). The batch dimension is dynamic.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from trainers.train.ensemble import Ensemble
from trainers.train.fused import FusedEnsemble

INPUT = "images"
OUTPUTS = ("scores", "probabilities")
MEMBER_OUTPUTS = ("logits",)


class Normalised(nn.Module):
    def __init__(self, inner: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.inner = inner
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images: Tensor) -> Tensor:
        return self.inner((images - self.mean) / self.std)


class DeployableEnsemble(nn.Module):
    def __init__(
        self, ensemble: Ensemble | FusedEnsemble, mean: Sequence[float], std: Sequence[float]
    ) -> None:
        super().__init__()
        self.model = Normalised(ensemble, mean, std)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        scores = self.model(images)
        return scores, torch.softmax(scores, dim=-1)


def write_onnx(model: nn.Module, path: Path, example: Tensor, output_names: Sequence[str]) -> Path:
    """Exports with torch.onnx's current (dynamo) exporter; one self-contained file."""
    model = model.eval()
    batch = torch.export.Dim("batch", min=1, max=65536)
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), torch.no_grad():
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,
            input_names=[INPUT],
            output_names=list(output_names),
            dynamic_shapes=({0: batch},),
            verbose=False,
        )
        program.save(str(path), external_data=False)
    return path
