"""divco's Python API, for notebooks and other programs: start or resume a search with
`searcher run`'s options, read a study's front and trials as data frames, export the best
ensemble and load it back as a PyTorch module or an ONNX Runtime session.

    from searcher import api

    study = api.search(budget_gflops=20, n_trials=4)   # as `searcher run --budget-gflops 20 ...`
    study.front()                                      # pandas, one row per Pareto point
    model = api.load_torch(study.export("deploy/"))    # or api.load_onnx("deploy/")

The command line calls these same functions. Importing this package does not import torch;
training, exporting and `load_torch` do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from searcher.api.options import SearchOptions, search_config
from searcher.api.results import Study, open_study, point
from searcher.api.search import SearchError, search

if TYPE_CHECKING:
    from searcher.api.exported import ExportedEnsemble, load_onnx, load_torch

__all__ = [
    "ExportedEnsemble",
    "SearchError",
    "SearchOptions",
    "Study",
    "load_onnx",
    "load_torch",
    "open_study",
    "point",
    "search",
    "search_config",
]

_LAZY = {"ExportedEnsemble", "load_onnx", "load_torch"}  # these import torch


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from searcher.api import exported

        return getattr(exported, name)
    raise AttributeError(f"module 'searcher.api' has no attribute '{name}'")
