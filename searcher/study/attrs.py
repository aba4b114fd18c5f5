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
LATENCY_MS = "latency_ms"  # fastest ensemble median at the latency batch (latency objective)
LATENCY_MODE = "latency_mode"  # how LATENCY_MS runs the members: concurrent or fused
LATENCY_LAYOUT = "latency_layout"  # the memory layout it was timed in: contiguous, channels_last
LATENCY_UNSTABLE = "latency_unstable"  # rows ("concurrent@1") whose timed calls never agreed
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
RETRY = "retry"  # a retried pruned candidate: its earlier pruned runs (its seed is theirs + 1)
WORKER = "worker"  # host:pid of the worker process that ran the trial
# `searcher confirm` (stored as the study attribute "confirm:<number>", see searcher/study/seeds.py):
CONFIRM_SEEDS = "confirm_seeds"  # {seed: validation accuracy}, the trial's own seed included
CONFIRM_MEAN = "confirm_mean"  # mean over those seeds
CONFIRM_STD = "confirm_std"  # their sample standard deviation
REFERENCE = "reference"  # True for the space's reference networks (never stopped early)
RETRY_OF = "retry_of"  # the killed, interrupted or failed trial this one retrains
# recipe init wide_then_narrow (searcher/run/teacher.py, trainers/train/imitation.py)
TEACHER_ID = "teacher_id"  # candidate id of the wide teacher, written when the trial is proposed
TEACHER = "teacher"  # {candidate_id, label, checkpoint} of the teacher the members imitated
TEACHER_TRAINED = "teacher_trained"  # whether this trial trained the teacher (else reused it)
TEACHER_SECONDS = "teacher_seconds"  # the teacher's training time, not in train_seconds
IMITATION_LOSSES = "imitation_losses"  # relative imitation loss of each network stage

Status = Literal["trained", "pruned", "infeasible", "duplicate", "surplus", "failed"]
# While a trial runs: no status (proposing), "claiming" (waiting for lower-numbered trials to
# decide, searcher/run/claim.py), then "training".

# Study user attributes.
SPACE_FINGERPRINT = "space_fingerprint"
SPACE = "space"  # SearchSpace.to_dict()
DATA = "data"
OBJECTIVE = "objective"
SEEDED = "seeded_references"
BUDGET = "budget"  # Budget.to_dict() of the latest run; workers joining the study use it
MEASUREMENT = "measurement"  # {latency_runtime} of the latest run; joiners too
STOPPING = "stopping"  # {stopping, asha_eta, asha_min_epochs} of the latest run; joiners too
TARGET = "trial_target"  # trained trials the latest run aims the study at; joining workers too
RUN_TRIALS = "run_trials"  # --n-trials of the run that set TARGET: the same command resumes it
SPACE_NAME = "space_name"
