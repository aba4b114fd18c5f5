"""Names of the trial attributes divco stores: the contract with the dashboard and export.

Every trial's Optuna user attributes use these keys (see README, "Stored trial attributes").
Values are JSON-serialisable.
"""

from __future__ import annotations

from typing import Literal

STATUS = "status"  # one of Status below
CANDIDATE = "candidate"  # Candidate.to_dict()
CANDIDATE_ID = "candidate_id"
LABEL = "label"  # e.g. "ResNet-8 w16 S=2 @16px"
ACCURACY = "accuracy"  # ensemble top-1 on the validation split (what the search maximises)
MEMBER_ACCURACIES = "member_accuracies"
VAL_LOSS = "val_loss"
TEST_ACCURACY = "test_accuracy"  # the data set's own test split, never used to select (or None)
CURVE = "curve"  # validation accuracy after each epoch
GFLOPS = "gflops"  # multiply-adds, batch 1, summed over members
MEMBER_GFLOPS = "member_gflops"
PARAMS_M = "params_m"
LATENCY = "latency"  # LatencyTable.to_dict(): device and rows (mode, batch, median_ms, p90_ms)
LATENCY_MS = "latency_ms"  # concurrent median at the latency batch (the latency objective)
SLOWEST_MEMBER_MS = "slowest_member_ms"  # the slowest member alone at the latency batch
REWARD = "reward"  # MnasNet soft reward (the first objective) when --latency-reward soft
TRAIN_SECONDS = "train_seconds"
IMAGES_PER_S = "images_per_s"
EPOCHS_RUN = "epochs_run"
STOPPED_BY = "stopped_by"  # completed | time_limit | pruned
DEVICE = "device"
CHECKPOINT = "checkpoint"  # absolute path of the saved ensemble (trained trials only)
OVER_BUDGET = "over_budget"  # reasons, for infeasible trials
DUPLICATE_OF = "duplicate_of"  # trial number whose result was reused
ERROR = "error"  # one line, for failed trials
SEED = "seed"
WORKER = "worker"  # host:pid of the worker process that ran the trial

Status = Literal["trained", "pruned", "infeasible", "duplicate", "failed"]

# Study user attributes.
SPACE_FINGERPRINT = "space_fingerprint"
SPACE = "space"  # SearchSpace.to_dict()
DATA = "data"
OBJECTIVE = "objective"
SEEDED = "seeded_references"
BUDGET = "budget"  # Budget.to_dict() of the latest run; workers joining the study use it
TARGET = "trial_target"  # trained trials the latest run aims the study at; joining workers too
SPACE_NAME = "space_name"
