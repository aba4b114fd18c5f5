"""The stand-in `searcher worker` of benchmarks/workers_load.py: the real control plane, no torch.

Around each trial it does what a worker does, through the real modules: the search loop's reads
before a trial (`fail_stale_trials`, `requeue_lost`, `pending_references`, the trained count),
the objective's attribute writes, the twin check (`read_records`), the claim
(`searcher.run.claim.claim`, its wait included), one curve write per epoch, the result writes,
and the front's read and study attribute, on Optuna's RDB storage with the heartbeat on.
Training is a sleep of `--trial-s`. `space.candidate` (which loads torch through the architecture families: about 1 GB
and 10 s of CPU per process) is replaced by a value class with the same `id`, `label` and
`from_dict` before `searcher.run.recovery` is imported, so 64 of these fit on a small machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import types
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from workers_load import REFERENCES  # noqa: E402  (the study's references: one list)

# A space of 2 912 candidates (91 architectures x 4 ensemble sizes x 8 image sizes), well above
# the targets measured (5 trials a worker: 320 at 64 workers), so proposals run out of
# neither candidates nor twins.
FAMILIES = {
    "resnet": ([8, 14, 20, 26, 32], [4, 8, 12, 16, 24, 32, 64]),
    "wide_resnet": ([10, 16, 22, 28], [1, 2, 3, 4, 6, 8, 10]),
    "densenet": ([40, 64, 100, 190], [6, 12, 16, 24, 32, 40, 48]),
}
NETWORKS, SIZES, EPOCHS = [1, 2, 4, 8], [16, 20, 24, 28, 32, 40, 48, 56], 3


@dataclass(frozen=True)
class StandInCandidate:
    """What recovery needs of a candidate: its id, label and params (no network is built)."""

    params: dict[str, Any]

    @property
    def id(self) -> str:
        p = self.params
        f = p["family"]
        return f"{f}-{p[f + '.depth']}-w{p[f + '.width']}-S{p['networks']}-{p['image_size']}px"

    label = id

    @staticmethod
    def from_dict(values: dict[str, Any]) -> StandInCandidate:
        return StandInCandidate(dict(values))

    def to_params(self) -> dict[str, Any]:
        return dict(self.params)


sys.modules["space.candidate"] = types.SimpleNamespace(Candidate=StandInCandidate)  # type: ignore[assignment]

from searcher.run.claim import claim, fail_stale_trials  # noqa: E402
from searcher.run.recovery import pending_references, requeue_lost, slot_holders  # noqa: E402
from searcher.run.slots import slots_used  # noqa: E402
from searcher.study import attrs  # noqa: E402
from searcher.study.frontier import FRONT_ATTR, front_summary, front_view  # noqa: E402
from searcher.study.records import read_records  # noqa: E402
from searcher.study.resilient import set_trial_attrs  # noqa: E402
from searcher.study.sampler import make_sampler  # noqa: E402
from searcher.study.storage import open_storage  # noqa: E402

CANDIDATES = [StandInCandidate(p) for p in REFERENCES]


def params_of(candidate: StandInCandidate) -> dict[str, Any]:
    return candidate.to_params()


class StandInObjective:
    """TrialObjective's control-plane steps, with a sleep for training."""

    def __init__(self, target: int, trial_s: float, log: list[dict[str, Any]]) -> None:
        self.target, self.trial_s, self.log = target, trial_s, log
        self.reference_ids = {c.id for c in CANDIDATES}

    def __call__(self, trial: optuna.Trial) -> list[float]:
        started = time.perf_counter()
        family = trial.suggest_categorical("family", list(FAMILIES))
        depths, widths = FAMILIES[family]
        params = {"family": family}
        params[f"{family}.depth"] = trial.suggest_categorical(f"{family}.depth", depths)
        params[f"{family}.width"] = trial.suggest_categorical(f"{family}.width", widths)
        params["networks"] = trial.suggest_categorical("networks", NETWORKS)
        params["image_size"] = trial.suggest_categorical("image_size", SIZES)
        candidate = StandInCandidate(params)
        entry = {"number": trial.number, "candidate": candidate.id, "start": time.time()}
        self.log.append(entry)
        # costs and accuracies spread as a real study's are, so TPE does not close in on a
        # corner of the space (with one accuracy for all, it re-proposed the cheapest corner)
        depth, width = params[f"{family}.depth"], params[f"{family}.width"]
        gflops = (
            depth * width * (params["image_size"] / 32) ** 2 * (1 + params["networks"] / 20) / 100
        )
        accuracy = 0.5 + 0.45 * (zlib.crc32(candidate.id.encode()) % 1000) / 1000
        reference = {attrs.REFERENCE: True} if candidate.id in self.reference_ids else {}
        set_trial_attrs(trial, {attrs.CANDIDATE: params, attrs.CANDIDATE_ID: candidate.id,
                                attrs.LABEL: candidate.label, attrs.GFLOPS: gflops,
                                attrs.MEMBER_GFLOPS: [gflops], attrs.PARAMS_M: 0.1, attrs.SEED: 0,
                                attrs.WORKER: f"standin:{os.getpid()}"} | reference)  # fmt: skip
        trials = trial.study.get_trials(deepcopy=False)  # TrialObjective: one read for both
        records = read_records(trial.study, trials)
        if any(r.status == "trained" and r.attrs.get(attrs.CANDIDATE_ID) == candidate.id
               for r in records):  # fmt: skip
            return self.end(trial, entry, started, "duplicate")
        references, lost = slot_holders(trial.study, CANDIDATES, params_of, trials)
        exempt = candidate.id in self.reference_ids or candidate.id in lost
        claimed = time.perf_counter()
        decision = claim(trial, candidate.id, None if exempt else self.target,
                         references=references | lost)  # fmt: skip
        entry["claim_s"] = time.perf_counter() - claimed
        if decision.outcome != "training":
            return self.end(trial, entry, started, decision.outcome)
        entry["overhead_s"] = time.perf_counter() - started
        curve = []
        for epoch in range(EPOCHS):
            time.sleep(self.trial_s / EPOCHS)
            curve.append(accuracy - 0.01 * (EPOCHS - 1 - epoch))
            trial.set_user_attr(attrs.CURVE, list(curve))
        after = time.perf_counter()
        set_trial_attrs(trial, {attrs.ACCURACY: curve[-1], attrs.MEMBER_ACCURACIES: [curve[-1]],
                                attrs.VAL_LOSS: 1.0, attrs.TEST_ACCURACY: None,
                                attrs.LATENCY_MS: 1.0, attrs.TRAIN_SECONDS: self.trial_s,
                                attrs.IMAGES_PER_S: 1000.0, attrs.EPOCHS_RUN: EPOCHS,
                                attrs.STOPPED_BY: "completed", attrs.DEVICE: "cpu",
                                attrs.CHECKPOINT: "/dev/null", attrs.STATUS: "trained"})  # fmt: skip
        trial.set_constraint("budget", 0.0)
        entry["overhead_s"] += time.perf_counter() - after
        entry["status"], entry["end"] = "trained", time.time()
        return [curve[-1], gflops]

    def end(self, trial: optuna.Trial, entry: dict, started: float, status: str) -> list[float]:
        trial.set_user_attr(attrs.STATUS, status)
        entry["status"], entry["end"] = status, time.time()
        entry["overhead_s"] = time.perf_counter() - started
        raise optuna.TrialPruned


def work_left(study: optuna.Study, target: int) -> tuple[bool, bool]:
    """SearchLoop.work_left: (work left, propose a trial now); one read of the study, and no
    proposal while others hold every slot left (it could only be surplus)."""
    fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    if requeue_lost(study, CANDIDATES, params_of, trials):
        trials = study.get_trials(deepcopy=False)
    pending, running_references = pending_references(study, CANDIDATES, params_of, trials)
    if pending:
        return True, True
    done, running = slots_used(study, trials, study.user_attrs)
    if done >= target and not running_references:
        return False, False
    if done + running >= target or done >= target:
        time.sleep(1.0)  # SearchLoop.POLL_S
        fail_stale_trials(study)
        return True, any(t.state == TrialState.WAITING for t in trials)
    return True, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--trial-s", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heartbeat-s", type=int, default=10)
    parser.add_argument("--go", type=Path, required=True, help="start when this file exists")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--wait", choices=["narrowed", "all"], default="narrowed",
                        help="all: wait for every lower undecided trial (the claim before it was narrowed)")  # fmt: skip
    args = parser.parse_args()
    if args.wait == "all":
        import searcher.run.claim as claim_module

        claim_module.blocking_below = lambda trials, number, *rest: [
            t.number for t in trials if t.number < number and t.state.name == "RUNNING"
            and t.user_attrs.get(attrs.STATUS) in claim_module.UNDECIDED
        ]  # fmt: skip
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if args.storage.startswith("grpc://"):
        host, port = args.storage.removeprefix("grpc://").split(":")
        storage: optuna.storages.BaseStorage = optuna.storages.GrpcStorageProxy(
            host=host, port=int(port)
        )
        storage.wait_server_ready(timeout=120)
    else:
        storage = open_storage(args.storage, heartbeat_interval=args.heartbeat_s)
    study = optuna.load_study(study_name=args.study, storage=storage,
                              sampler=make_sampler(args.seed))  # fmt: skip
    args.out.with_suffix(".ready").touch()
    log: list[dict[str, Any]] = []
    objective = StandInObjective(args.target, args.trial_s, log)
    while not args.go.exists():
        time.sleep(0.05)
    ready = resource.getrusage(resource.RUSAGE_SELF)
    loop_s = 0.0
    while True:
        started = time.perf_counter()
        left, propose = work_left(study, args.target)
        if not left:
            break
        loop_s += time.perf_counter() - started
        if not propose:
            continue
        study.optimize(objective, n_trials=1, catch=(RuntimeError,))
        if log and log[-1].get("status") == "trained":  # SearchLoop.publish_front
            started = time.perf_counter()
            view = front_view(read_records(study), attrs.GFLOPS)
            study.set_user_attr(FRONT_ATTR, front_summary(view, attrs.GFLOPS))
            log[-1]["overhead_s"] += time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    summary = {"cpu_s": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
               "run_cpu_s": usage.ru_utime + usage.ru_stime - ready.ru_utime - ready.ru_stime,
               "loop_s": loop_s, "trials": log}  # fmt: skip
    args.out.write_text(json.dumps(summary))


if __name__ == "__main__":
    if os.environ.get("STANDIN_PROFILE"):
        import cProfile

        profile = cProfile.Profile(time.process_time)
        profile.runcall(main)
        profile.dump_stats(f"{os.environ['STANDIN_PROFILE']}.{os.getpid()}")
    else:
        main()
