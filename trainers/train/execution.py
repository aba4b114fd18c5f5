"""How the members execute during training: memory format and torch.compile (recipe options).

Both are off by default and change speed, not what is trained. `channels_last` converts the
members and every input batch on a GPU; on the CPU it is ignored (this torch build's CPU
channels-last convolutions were seen to be nondeterministic and to corrupt memory). `compile` wraps each member in `torch.compile` for the training
forward only (evaluation runs eager, so it never recompiles for eval mode or odd batch sizes).
Compilation happens lazily at the first step; if it fails there, the trainer calls `fall_back`,
which logs one warning line and the step is redone eagerly: a compile failure never fails a trial.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from space.recipe import Recipe
from trainers.train.ensemble import Ensemble

log = logging.getLogger(__name__)


class Execution:
    def __init__(self, ensemble: Ensemble, recipe: Recipe, device: torch.device) -> None:
        self.ensemble = ensemble
        wanted = recipe.memory_format == "channels_last" and device.type == "cuda"
        self.memory_format = torch.channels_last if wanted else None
        if self.memory_format is not None:
            ensemble.to(memory_format=self.memory_format)
        self.compiled: list[nn.Module] | None = None
        if recipe.compile != "off":
            try:
                self.compiled = [torch.compile(m, mode=recipe.compile) for m in ensemble.members]
            except Exception as exc:  # any failure means: run eagerly
                _warn(exc)

    def prepare(self, inputs: Sequence[Tensor]) -> list[Tensor]:
        if self.memory_format is None:
            return list(inputs)
        return [x.contiguous(memory_format=self.memory_format) for x in inputs]

    def member_logits(self, inputs: Sequence[Tensor]) -> list[Tensor]:
        if self.compiled is None:
            return self.ensemble.member_logits(inputs)
        return [member(x) for member, x in zip(self.compiled, inputs, strict=True)]

    def fall_back(self, exc: BaseException) -> bool:
        """Switches to eager after a compile failure; False when already eager (a real error)."""
        if self.compiled is None:
            return False
        _warn(exc)
        self.compiled = None
        return True


def _warn(exc: BaseException) -> None:
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    log.warning("torch.compile failed (%s: %s); training eagerly", type(exc).__name__, first)
