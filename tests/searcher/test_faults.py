"""Storage outages, injected: a database that stops answering for a while, or for good.

The failure is injected below SQLAlchemy (every statement raises the OperationalError a dropped
connection raises), so everything above it, Optuna's storage, its trial cache and the search
loop, runs as it does against a real outage; the restart of a real PostgreSQL server is in
test_faults_postgres.py.
"""

from __future__ import annotations

import math
import signal
import sqlite3
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
import sqlalchemy
import sqlalchemy.event
from optuna.trial import TrialState

import searcher.run.objective
from searcher.run.config import SearchConfig
from searcher.run.loop import PreparedSearch, prepare, target_of
from searcher.run.recovery import histories
from searcher.run.workers import worker_main
from searcher.study import attrs
from searcher.study.outage import Outage, StorageOutageError, is_outage
from searcher.study.records import read_records
from searcher.study.storage import open_storage
from space.search_space import parse_space
from tests.conftest import TINY_SPACE


class FakeTime:
    """A clock that only sleeping moves: outages of minutes take no time."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Blackout:
    """Makes every statement on an engine fail as a dropped connection does, while the fake
    clock is before `until` (which only the retries' sleeps move on)."""

    def __init__(self, engine: sqlalchemy.engine.Engine, time_: FakeTime) -> None:
        self.time, self.until = time_, -math.inf
        sqlalchemy.event.listen(engine, "before_cursor_execute", self.statement)

    def down_for(self, seconds: float) -> None:
        self.until = self.time.now + seconds

    def statement(self, *_args: object) -> None:
        if self.time.now < self.until:
            raise sqlalchemy.exc.OperationalError(
                "SELECT 1", {}, ConnectionRefusedError("connection refused")
            )


def connection_refused() -> Exception:
    return sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))


def test_an_outage_is_retried_with_backoff_and_said_once() -> None:
    time_, lines, calls = FakeTime(), [], []

    def flaky() -> str:
        calls.append(time_.now)
        if len(calls) <= 5:
            raise optuna.exceptions.StorageInternalError("commit failed") from connection_refused()
        return "stored"

    outage = Outage(limit_s=60, say=lines.append, clock=time_.clock, sleep=time_.sleep)
    assert outage.call(flaky) == "stored"
    assert len(lines) == 1 and "unreachable (refused)" in lines[0]
    assert calls == [0.0, 0.25, 0.75, 1.75, 3.75, 7.75]  # doubling waits
    assert outage.quiet(grace_s=3.0)  # just ended: no trial is judged stale yet
    time_.sleep(3.0)
    assert outage.quiet(grace_s=3.0) is False
    assert outage.call(flaky) == "stored" and len(lines) == 1  # no new outage, no new line


def test_a_locked_sqlite_file_is_said_to_be_locked_not_unreachable() -> None:
    time_, lines, calls = FakeTime(), [], []

    def locked() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise sqlalchemy.exc.OperationalError(
                "BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")
            )
        return "stored"

    outage = Outage(limit_s=60, say=lines.append, clock=time_.clock, sleep=time_.sleep)
    assert outage.call(locked) == "stored"
    assert len(lines) == 1 and "is locked by another writer (database is locked)" in lines[0]


def test_past_the_limit_a_call_raises_one_clear_error() -> None:
    time_, lines = FakeTime(), []

    def down() -> None:
        raise connection_refused()

    outage = Outage(limit_s=30, say=lines.append, clock=time_.clock, sleep=time_.sleep)
    with pytest.raises(StorageOutageError, match=r"did not answer for 3\d s .*limit 30 s"):
        outage.call(down)
    assert len(lines) == 1


def test_errors_of_the_request_itself_are_not_retried() -> None:
    assert not is_outage(ValueError("bad value"))
    assert not is_outage(sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_outage(optuna.exceptions.StorageInternalError("invalid data"))
    wrapped = optuna.exceptions.StorageInternalError("commit")
    wrapped.__cause__ = connection_refused()
    assert is_outage(wrapped)


def tiny_config(tmp_path: Path, **changes: object) -> SearchConfig:
    space = parse_space(TINY_SPACE, "tiny", "test space")
    defaults = {"stopping": "none", "n_trials": 2, "trial_target": "total", "heartbeat_s": 1}
    return SearchConfig(
        space=space, storage=f"sqlite:///{tmp_path / 'study.db'}", study="tiny",
        runs_dir=tmp_path / "runs", **(defaults | changes),
    )  # fmt: skip


def blackout_of(prepared: PreparedSearch, time_: FakeTime) -> Blackout:
    backend = prepared.study._storage._backend  # Optuna's trial cache in front of ours
    backend.outage.clock, backend.outage.sleep = time_.clock, time_.sleep
    return Blackout(backend.engine, time_)


def test_a_trial_that_finishes_during_an_outage_is_stored_when_the_database_answers(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """The database goes away as the first trial finishes training: its result waits and is
    written once the database answers; the study reaches its target, nothing trained twice."""
    config = tiny_config(tmp_path)
    prepared = prepare(config)
    blackout, time_ = None, FakeTime()
    run_trial = searcher.run.objective.run_trial

    def then_outage(*args, **kwargs):
        outcome = run_trial(*args, **kwargs)
        blackout.down_for(20.0)  # the result waits 20 s for the database
        return outcome

    monkeypatch.setattr(searcher.run.objective, "run_trial", then_outage)
    blackout = blackout_of(prepared, time_)
    assert worker_main(config, None, prepared=prepared) == 0
    err = capsys.readouterr().err
    assert err.count("is unreachable") == 2, err  # one line for each of the two outages
    assert "Traceback" not in err
    records = read_records(optuna.load_study(study_name="tiny", storage=config.storage))
    trained = [r.attrs[attrs.CANDIDATE_ID] for r in records if r.status == "trained"]
    assert len(trained) == 2 and len(set(trained)) == 2
    assert [r.number for r in records if r.state == "RUNNING"] == []
    assert all(r.status != "failed" for r in records)


def test_a_worker_stops_with_one_line_past_the_outage_limit(tmp_path: Path, capsys) -> None:
    config = tiny_config(tmp_path, storage_outage_limit_s=120.0)
    prepared = prepare(config)
    time_ = FakeTime()
    blackout = blackout_of(prepared, time_)
    blackout.down_for(math.inf)  # never comes back
    handler = signal.getsignal(signal.SIGTERM)
    assert worker_main(config, None, prepared=prepared) == 2
    assert signal.getsignal(signal.SIGTERM) is handler  # the caller's handler is back
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err  # the outage, then the error that stops the worker
    assert "is unreachable" in err[0]
    assert "error: the storage sqlite:///" in err[1] and "limit 120 s" in err[1]
    blackout.until = -math.inf
    study = optuna.load_study(study_name="tiny", storage=config.storage)
    assert [t.number for t in study.trials if t.state.is_finished()] == []  # nothing lost


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # ask() outside optimize
def test_a_queued_trial_just_taken_counts_as_running(tmp_path: Path) -> None:
    """A worker that took a reference from the queue, before it wrote the candidate: another
    worker must not enqueue that reference again as if it were lost."""
    prepared = prepare(tiny_config(tmp_path, references="first"))
    study, space = prepared.study, prepared.space
    study.ask()  # the first reference, taken from the queue; nothing written yet
    references = space.reference_candidates()
    known = histories(study.get_trials(deepcopy=False), references, space.trial_params)
    assert known[references[0].id].running


def test_open_storage_on_a_fresh_sqlite_file_takes_the_write_lock_at_begin(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'x.db'}")
    seen: list[str] = []
    sqlalchemy.event.listen(
        storage.engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0])
    )
    optuna.create_study(storage=storage, study_name="x")
    assert "BEGIN" in seen


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # ask() outside optimize
def test_the_same_command_resumes_an_unfinished_run_and_extends_a_finished_one(
    tmp_path: Path,
) -> None:
    """`searcher run --n-trials 3` whose leader was killed before the target: the same command
    aims at the stored target again; once it is reached, it asks for 3 more, as before."""
    config = tiny_config(tmp_path, trial_target="add", n_trials=3)
    study = prepare(config).study
    assert target_of(study, config) == 3
    study.set_user_attr(attrs.TARGET, 3)
    study.set_user_attr(attrs.RUN_TRIALS, 3)
    for _ in range(2):
        trial = study.ask()
        trial.set_user_attr(attrs.STATUS, "trained")
        study.tell(trial, [0.5, 1.0])
    assert target_of(study, config) == 3  # resumed: one more to train
    assert target_of(study, replace(config, n_trials=5)) == 7  # another command adds
    trial = study.ask()
    trial.set_user_attr(attrs.STATUS, "trained")
    study.tell(trial, [0.5, 1.0])
    assert target_of(study, config) == 6  # the run finished: the same command adds 3 more


def test_a_trial_failed_meanwhile_by_another_worker_is_one_line_and_trained_again(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """A worker whose heartbeat came late (a starved machine) finds its trial failed by another
    worker when it stores the result: one line, no traceback, the candidate is trained again."""
    config = tiny_config(tmp_path)
    prepared = prepare(config)
    study, run_trial, judged = prepared.study, searcher.run.objective.run_trial, []

    def judged_dead(*args, **kwargs):
        outcome = run_trial(*args, **kwargs)
        if not judged:  # as another worker's fail_stale_trials would
            judged.append(args[0].id)
            trial_id = study._storage.get_trial_id_from_study_id_trial_number(
                study._study_id, args[3]
            )
            study._storage.set_trial_state_values(trial_id, TrialState.FAIL)
        return outcome

    monkeypatch.setattr(searcher.run.objective, "run_trial", judged_dead)
    assert worker_main(config, None, prepared=prepared) == 0
    captured = capsys.readouterr()
    assert captured.out.count("failed meanwhile by another worker") == 1
    assert "Traceback" not in captured.err
    records = read_records(optuna.load_study(study_name="tiny", storage=config.storage))
    trained = [r.attrs[attrs.CANDIDATE_ID] for r in records if r.status == "trained"]
    assert len(trained) == 2 and len(set(trained)) == 2 and judged[0] in trained


def test_every_storage_call_of_optunas_trial_cache_is_retried() -> None:
    """Optuna's trial cache calls some private RDBStorage methods instead of the public ones
    (`_set_trial_param`, `_create_new_trial`): each one that reaches the database must be
    retried through an outage, or a restart mid-proposal is a traceback."""
    import inspect
    import re

    from optuna.storages import _cached_storage

    from searcher.study.resilient import RETRIED, ResilientStorage

    called = set(re.findall(r"self\._backend\.(\w+)\(", inspect.getsource(_cached_storage)))
    own = {"set_trial_state_values", "record_heartbeat", "_get_stale_trial_ids"}
    no_database = {"get_heartbeat_interval", "get_heartbeat_stale_trial_callback"}
    assert own <= set(vars(ResilientStorage))
    assert called - set(RETRIED) - own - no_database == set()


def test_a_pool_worker_waits_for_a_database_that_goes_away_as_it_connects() -> None:
    """The leader's first connection fails at once (a bad URL is one line); a pool's worker,
    joining a storage its leader just reached, waits it out up to the limit instead."""
    from searcher.study.outage import StorageOutageError
    from searcher.study.storage import StorageError, open_storage

    url = "postgresql://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1
    with pytest.raises(StorageError, match="cannot open storage"):
        open_storage(url, outage_limit_s=0.01)
    with pytest.raises(StorageOutageError):
        open_storage(url, outage_limit_s=0.01, worker="w0 cpu")
