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
from space.errors import ConfigError, DivcoError
from trainers.train.cotrain import build_ensemble
from trainers.train.ensemble import Ensemble

FORMAT = 1


class CheckpointError(DivcoError):
    """A checkpoint could not be written (disk full, runs folder unwritable): the trial fails
    with this one line; the files already there are untouched."""


def save_checkpoint(path: str | Path, candidate: Candidate, ensemble: Ensemble) -> Path:
    path = Path(path)
    payload = {
        "format": FORMAT,
        "candidate": candidate.to_dict(),
        "state_dict": ensemble.state_dict(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {_reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would surprise whoever deploys the file
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch's writer reports a failed write as Runtime
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointError(f"cannot write checkpoint {path}: {_reason(exc)}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror  # "No space left on device", without the errno and path
    return " ".join(str(exc).split())[:200]


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
