"""The stored study as the record of the compute: lost references come back, repeated failures
stop the run, peers agree on the front, `frontier --all` lists everything."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

import searcher.run.objective
from searcher.cli.main import main
from searcher.run.config import SearchConfig
from searcher.run.loop import PreparedSearch, prepare
from searcher.run.objective import TrialObjective, candidate_attrs
from searcher.run.progress import Progress
from searcher.run.recovery import failure_kind, requeue_lost
from searcher.run.workers import config_from_study
from searcher.study import attrs
from searcher.study.frontier import pareto_front
from searcher.study.records import read_records
from space.search_space import parse_space
from space.suggest import suggest
from tests.conftest import TINY_SPACE


def tiny_config(tmp_path: Path, **changes) -> SearchConfig:
    space = parse_space(TINY_SPACE, "tiny", "test space")
    return SearchConfig(
        space=space, storage=f"sqlite:///{tmp_path / 'study.db'}", study="tiny",
        runs_dir=tmp_path / "runs", **{"stopping": "none", **changes},
    )  # fmt: skip


def lose_next_trial(prepared: PreparedSearch, how: str) -> int:
    """Pops the next queued trial as a worker would, then loses it: `killed` (the heartbeat
    stopped: status still `training`), `interrupted` (Ctrl-C) or `error`."""
    study = prepared.study
    trial = study.ask()
    candidate = suggest(trial, prepared.space)  # queued params, or sampled ones
    for key, value in candidate_attrs(candidate).items():
        trial.set_user_attr(key, value)
    trial.set_user_attr(attrs.STATUS, "training")
    if how != "killed":
        trial.set_user_attr(attrs.STATUS, "failed")
        trial.set_user_attr(attrs.ERROR, "interrupted" if how == "interrupted" else "disk full")
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return trial.number


def test_failure_kinds(tmp_path: Path) -> None:
    prepared = prepare(tiny_config(tmp_path))
    study = prepared.study
    numbers = [lose_next_trial(prepared, how) for how in ("killed", "interrupted", "error")]
    kinds = [failure_kind(study.trials[n]) for n in numbers]
    assert kinds == ["killed", "interrupted", "error"]


@pytest.mark.slow
def test_a_reference_killed_twice_is_trained_and_the_target_waits_for_it(
    tmp_path: Path, without_anchor: None
) -> None:
    """Optuna's retry callback retried a killed trial once; a reference killed twice was lost and
    the study stopped at its target without it."""
    config = tiny_config(tmp_path, n_trials=1, references="first")
    prepared = prepare(config)
    study = prepared.study
    first = lose_next_trial(prepared, "killed")  # the S=1 reference
    reference_id = study.trials[first].user_attrs[attrs.CANDIDATE_ID]
    requeued = requeue_lost(study, prepared.space.reference_candidates())
    assert len(requeued) == 1
    assert requeue_lost(study, prepared.space.reference_candidates()) == []  # queued once
    second = lose_next_trial(prepared, "killed")  # S=2 reference; the retry of S=1 still queued
    again = lose_next_trial(prepared, "killed")  # the retry of S=1, killed too
    assert study.trials[again].user_attrs[attrs.CANDIDATE_ID] == reference_id
    assert study.trials[again].user_attrs[attrs.RETRY_OF] == first
    assert main(["run", "--space", write_space(tmp_path), "--storage", config.storage,
                 "--study", "tiny", "--runs-dir", str(tmp_path / "runs"),
                 "--no-pruning", "--n-trials", "1", "--references", "first"]) == 0  # fmt: skip
    records = read_records(optuna.load_study(study_name="tiny", storage=config.storage))
    trained = [r for r in records if r.status == "trained"]
    refs = {c.id for c in prepared.space.reference_candidates()}
    assert refs <= {r.attrs[attrs.CANDIDATE_ID] for r in trained}  # both, though the target is 1
    assert [r.attrs.get(attrs.REFERENCE) for r in trained[:2]] == [True, True]
    assert study.trials[second].user_attrs[attrs.CANDIDATE_ID] in refs
    assert all(r.state != "RUNNING" for r in records)


def write_space(tmp_path: Path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return str(path)


@pytest.mark.slow
def test_errors_count_toward_a_limit_but_kills_do_not(tmp_path: Path, without_anchor: None) -> None:
    prepared = prepare(tiny_config(tmp_path, references="first"))
    study, refs = prepared.study, prepared.space.reference_candidates()
    for _ in range(3):
        lose_next_trial(prepared, "error")  # S=1 ref, S=2 ref, then the requeued S=1 ref
        requeue_lost(study, refs)
    lose_next_trial(prepared, "error")  # S=2's retry: its second error
    lose_next_trial(prepared, "error")  # S=1's third error: given up
    queued = [t for t in study.trials if t.state.name == "WAITING"]
    labels = requeue_lost(study, refs)
    queued_after = [t for t in study.trials if t.state.name == "WAITING"]
    assert len(labels) == 1 and len(queued_after) == len(queued) + 1  # only S=2, not S=1


def test_references_are_never_stopped_early(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, stopping="median")
    prepared = prepare(config)
    objective = TrialObjective(prepared.space, prepared.data, config, Progress(print, "gflops"), 9)
    reference, *_ = prepared.space.reference_candidates()
    other = reference.replace(width=2)
    trial = prepared.study.ask()
    assert objective.stopper(trial, reference, []) is None
    assert objective.stopper(trial, other, []) is not None


def test_repeated_failures_stop_the_run_with_one_line(
    tmp_path: Path, run_args: list[str], monkeypatch, capsys
) -> None:
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        if len(calls) > 8:  # never reached once the loop stops after 5
            raise KeyboardInterrupt
        raise RuntimeError("No space left on device")

    monkeypatch.setattr(searcher.run.objective, "run_trial", broken)
    assert main([*run_args, "--n-trials", "20"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "5 failed trials in a row" in err and "No space left on device" in err
    records = read_records(optuna.load_study(study_name="tiny", storage=run_args[4]))
    assert sum(r.status == "failed" for r in records) == 5


@pytest.mark.slow
def test_a_peer_client_sees_the_same_front(
    tmp_path: Path, run_args: list[str], without_anchor: None
) -> None:
    """Duplicates end PRUNED, so Optuna's own best_trials (what optuna-dashboard shows) is
    divco's front, while TPE still sees the re-proposals (the front sampler makes none)."""
    assert main([*run_args, "--n-trials", "4", "--seed", "1", "--sampler", "tpe"]) == 0
    assert config_from_study(run_args[4], "tiny").sampler == "tpe"  # a joining worker's too
    study = optuna.load_study(study_name="tiny", storage=run_args[4])
    records = read_records(study)
    assert any(r.status == "duplicate" for r in records)  # six candidates: TPE re-proposes
    divco = sorted(r.number for r in pareto_front(records))
    assert sorted(t.number for t in study.best_trials) == divco


@pytest.mark.slow
def test_frontier_all_lists_every_trial_with_its_status(
    tmp_path: Path, run_args: list[str], capsys
) -> None:
    config = tiny_config(tmp_path)
    lost = lose_next_trial(prepare(config), "killed")
    assert main([*run_args, "--n-trials", "2"]) == 0
    capsys.readouterr()
    assert main(["frontier", "--storage", run_args[4], "--all"]) == 0
    out = capsys.readouterr().out
    records = read_records(optuna.load_study(study_name="tiny", storage=run_args[4]))
    rows = {int(line.split()[0]): line for line in out.splitlines()[3:] if line.strip()}
    assert sorted(rows) == [r.number for r in records]
    assert "failed" in rows[lost] and "killed" in rows[lost]
    assert all(r.status in rows[r.number] for r in records)


def test_a_requeued_trial_taken_by_a_worker_is_not_queued_again(tmp_path: Path) -> None:
    prepared = prepare(tiny_config(tmp_path, references="first"))
    study, refs = prepared.study, prepared.space.reference_candidates()
    assert requeue_lost(study, refs) == []  # a new study's references are queued already
    lose_next_trial(prepared, "killed")
    lose_next_trial(prepared, "interrupted")
    assert len(requeue_lost(study, refs)) == 2
    study.ask()  # a worker takes the first retry: running, its candidate not yet written
    assert requeue_lost(study, refs) == []


def test_a_stopped_candidate_proposed_again_is_retrained_with_the_next_seed(
    tmp_path: Path, monkeypatch
) -> None:
    """One seed's curve was stopped by the early-stopping rule; when the sampler proposes the
    candidate again it trains once more with another seed (recorded), not reused as a duplicate."""
    config = tiny_config(tmp_path, stopping="asha", seed=7)
    prepared = prepare(config)
    study = prepared.study
    objective = TrialObjective(prepared.space, prepared.data, config, Progress(print, "gflops"), 9)
    other = prepared.space.reference_candidates()[0].replace(width=2)
    stopped = study.ask()
    for key, value in (candidate_attrs(other) | {attrs.STATUS: "pruned", attrs.SEED: 7}).items():
        stopped.set_user_attr(key, value)
    study.tell(stopped, state=optuna.trial.TrialState.PRUNED)
    trained_with = []

    def stop_at_training(candidate, data, config, *args):
        trained_with.append(config.seed)
        raise RuntimeError("stopped here")

    monkeypatch.setattr(searcher.run.objective, "run_trial", stop_at_training)
    study.enqueue_trial(other.to_params())
    retry = study.ask()
    while suggest(retry, prepared.space).id != other.id:  # skip the queued references
        study.tell(retry, state=optuna.trial.TrialState.FAIL)
        retry = study.ask()
    with pytest.raises(RuntimeError, match="stopped here"):
        objective(retry)
    assert trained_with == [8]
    assert retry.user_attrs[attrs.SEED] == 8 and retry.user_attrs[attrs.RETRY] == 1
