"""Names of the trial attributes divco stores: the contract with the dashboard and export.

Every trial's Optuna user attributes use these keys (see README, "Stored trial attributes").
Values are JSON-serialisable.
"""

from __future__ import annotations

from typing import Literal

STATUS = "status"  # `trained`, `pruned`, `infeasible`, `duplicate`, `surplus` or `failed` (Status below); while running `claiming`, then `training` (a failed trial whose status still says `training` was killed)
CANDIDATE = "candidate"  # Candidate.to_dict()
CANDIDATE_ID = "candidate_id"  # the candidate's stable id (a hash of its dict)
LABEL = "label"  # e.g. "ResNet-8 w16 S=2 @16px"
ACCURACY = "accuracy"  # ensemble top-1 on the validation split (what the search maximises)
MEMBER_ACCURACIES = "member_accuracies"  # each member's top-1 on the validation split
VAL_LOSS = "val_loss"  # the ensemble's NLL on the validation split
TEST_ACCURACY = "test_accuracy"  # the data set's own test split, never used to select (or None)
CURVE = "curve"  # validation accuracy after each epoch, written after every epoch while the trial runs (MO-ASHA's rungs read it)
GFLOPS = "gflops"  # multiply-adds, batch 1, summed over members
MEMBER_GFLOPS = "member_gflops"  # the cost model per member
PARAMS_M = "params_m"  # parameters in millions, summed over members
LATENCY = "latency"  # `{device, runtime, rows: [{mode, batch, median_ms, p90_ms, runs, spread, stable, layout}]}`: mode sequential, concurrent, fused (fusable homogeneous candidates), undivided or slowest_member; runtime `pytorch` or `onnxruntime <version>`; spread the interquartile range / median of the timed calls; layout `contiguous` or `channels_last`, whichever ran the row faster (PyTorch rows are timed in both)
LATENCY_MS = "latency_ms"  # the faster of concurrent and fused at --latency-batch (the latency objective and budget)
LATENCY_MODE = "latency_mode"  # how LATENCY_MS runs the members: concurrent or fused
LATENCY_LAYOUT = "latency_layout"  # the memory layout it was timed in: contiguous, channels_last
LATENCY_UNSTABLE = "latency_unstable"  # rows (`concurrent@1`) whose timed calls never agreed, even after a retake; a latency budget reads their p90
SLOWEST_MEMBER_MS = "slowest_member_ms"  # the slowest member alone at the latency batch
REWARD = "reward"  # MnasNet soft reward (the first objective) when --latency-reward soft
TRAIN_SECONDS = "train_seconds"  # training time (a wide teacher's is apart, in teacher_seconds)
IMAGES_PER_S = "images_per_s"  # training throughput
EPOCHS_RUN = "epochs_run"  # epochs trained (fewer when stopped early)
STOPPED_BY = "stopped_by"  # completed | time_limit | pruned
DEVICE = "device"  # where latency was measured
CHECKPOINT = "checkpoint"  # absolute path of the saved ensemble, trained trials only (`trainers.load_checkpoint(path)` rebuilds it)
OVER_BUDGET = "over_budget"  # reasons, for infeasible trials
DUPLICATE_OF = "duplicate_of"  # trial number whose result was reused
ERROR = "error"  # one line, for failed trials
SEED = "seed"  # the training seed
RETRY = "retry"  # a retried pruned candidate: its earlier pruned runs (its seed is theirs + 1)
WORKER = "worker"  # host:pid of the worker process that ran the trial
# While training, at most every ~20 s (searcher/run/step_progress.py): {epoch, epochs, step,
# steps, fraction (of the epoch), images_per_s, epoch_eta_s, trial_eta_s, elapsed_s, updated}
PROGRESS = "progress"
# `searcher confirm` (stored as the study attribute "confirm:<number>", see searcher/study/seeds.py):
CONFIRM_SEEDS = "confirm_seeds"  # {seed: validation accuracy}, the trial's own seed included
CONFIRM_MEAN = "confirm_mean"  # mean over those seeds
CONFIRM_STD = "confirm_std"  # their sample standard deviation

# The space's reference networks, and retries of lost trials:
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
# A `pruned` candidate proposed again trains this many more times (a new seed each); the claim
# (searcher/run/claim.py) and the front sampler (searcher/study/front_sampler.py) both obey it.
PRUNED_RETRIES = 1

# Study user attributes.
SPACE_FINGERPRINT = "space_fingerprint"  # what the space can propose: a study refuses another space
SPACE = "space"  # SearchSpace.to_dict()
DATA = "data"  # the data set searched (a study refuses another)
OBJECTIVE = "objective"  # gflops or latency (a study refuses another)
SEEDED = "seeded_references"  # true once the reference trials are enqueued
BUDGET = "budget"  # Budget.to_dict() of the latest run; workers joining the study use it
MEASUREMENT = "measurement"  # {latency_runtime} of the latest run; joiners too
STOPPING = "stopping"  # {sampler, stopping, asha_eta, asha_min_epochs} of the latest run
TARGET = "trial_target"  # trained trials the latest run aims the study at; joining workers too
RUN_TRIALS = "run_trials"  # --n-trials of the run that set TARGET: the same command resumes it
SPACE_NAME = "space_name"  # the preset or file name of the space
