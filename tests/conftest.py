from __future__ import annotations

from pathlib import Path

import pytest

TINY_SPACE = """
description: two tiny families for fast tests
families:
  resnet: {depths: [8], widths: [2, 4]}
  wide_resnet: {depths: [10], widths: [1]}
networks: [1, 2]
image_sizes: [8]
references:
  - {family: resnet, depth: 8, width: 4, image_size: 8}
recipe: {epochs: 1, batch_size: 128, lr: 0.05, warmup_epochs: 0, js_warmup_epochs: 1, augmentation: crop}
"""


@pytest.fixture
def tiny_space(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return path


@pytest.fixture
def run_args(tmp_path: Path, tiny_space: Path) -> list[str]:
    """`searcher run` arguments for a tiny search in this test's own directory."""
    return [
        "run", "--space", str(tiny_space), "--storage", f"sqlite:///{tmp_path / 'study.db'}",
        "--runs-dir", str(tmp_path / "runs"), "--study", "tiny", "--no-pruning",
    ]  # fmt: skip
