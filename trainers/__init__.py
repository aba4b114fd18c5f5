"""Training and measuring candidates: data, co-training, ensembles, latency.

Never imports optuna or `searcher`: the searcher reaches training through callbacks.
"""

from __future__ import annotations

from trainers.data import DATASETS, DataSource, load_data
from trainers.measure.latency import LatencyTable, measure_latency
from trainers.train.checkpoint import load_checkpoint, save_checkpoint
from trainers.train.cotrain import EpochReport, StopTraining, TrainResult, build_ensemble, train
from trainers.train.ensemble import Ensemble, aggregate
from trainers.train.evaluate import Evaluation, evaluate

__all__ = [
    "DATASETS",
    "DataSource",
    "Ensemble",
    "EpochReport",
    "Evaluation",
    "LatencyTable",
    "StopTraining",
    "TrainResult",
    "aggregate",
    "build_ensemble",
    "evaluate",
    "load_checkpoint",
    "load_data",
    "measure_latency",
    "save_checkpoint",
    "train",
]
