"""Checkpoints: the candidate and the ensemble's weights, written atomically.

A checkpoint is complete or absent: it is written to a temporary file and renamed, so a crash
never leaves a half-written file behind a stored path. `load_checkpoint` rebuilds the ensemble
from the candidate alone.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from space.candidate import Candidate
from space.errors import ConfigError
from trainers.train.cotrain import build_ensemble
from trainers.train.ensemble import Ensemble

FORMAT = 1


def save_checkpoint(path: str | Path, candidate: Candidate, ensemble: Ensemble) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "candidate": candidate.to_dict(),
        "state_dict": ensemble.state_dict(),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would surprise whoever deploys the file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[Candidate, Ensemble]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {path} does not exist")
    payload = torch.load(path, map_location=device, weights_only=True)
    if payload.get("format") != FORMAT:
        raise ConfigError(f"checkpoint {path} has unknown format {payload.get('format')}")
    candidate = Candidate.from_dict(payload["candidate"])
    ensemble = build_ensemble(candidate, seed=0)
    ensemble.load_state_dict(payload["state_dict"])
    return candidate, ensemble.to(device).eval()
