"""Worker pools over one study: real processes, a real PostgreSQL server, SIGKILL mid-trial."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from searcher.cli.main import main
from searcher.run.config import SearchConfig
from searcher.run.loop import prepare
from searcher.study import attrs
from searcher.study.records import read_records
from space.search_space import parse_space
from tests.searcher.processes import POOL_SPACE, SearcherProcess

POSTGRES_URL = os.environ.get("DIVCO_TEST_POSTGRES", "postgresql://postgres@localhost:5432/test")


def postgres_or_skip() -> str:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(POSTGRES_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # no server here: say so, never pass silently
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}")
    return POSTGRES_URL


@pytest.fixture
def postgres_study() -> Iterator[tuple[str, str]]:
    url, name = postgres_or_skip(), f"divco-test-{uuid.uuid4().hex[:8]}"
    yield url, name
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=name, storage=url)


def assert_one_kill_recovered(study: optuna.Study, target: int) -> None:
    """Exactly `target` trained, the killed trial failed and its candidate retried elsewhere."""
    records = read_records(study)
    assert [r for r in records if r.state == "RUNNING"] == []
    trained = [r for r in records if r.status == "trained"]
    assert len(trained) == target
    ids = [r.attrs[attrs.CANDIDATE_ID] for r in trained]
    assert len(set(ids)) == len(ids)  # nothing trained twice
    killed = [r for r in records if r.status == "failed"]
    assert len(killed) == 1, [
        (r.number, r.state, r.status, r.attrs.get(attrs.ERROR)) for r in records
    ]
    retry = [r for r in trained if r.number > killed[0].number and r.attrs[attrs.CANDIDATE_ID] == killed[0].attrs[attrs.CANDIDATE_ID]]  # fmt: skip
    assert len(retry) == 1, [
        (r.number, r.status, r.attrs.get(attrs.CANDIDATE_ID), r.attrs.get(attrs.RETRY_OF))
        for r in records
    ]
    assert retry[0].attrs[attrs.WORKER] != killed[0].attrs[attrs.WORKER]
    assert {r.status for r in records} <= {"trained", "failed", "duplicate", "surplus", "waiting"}


@pytest.mark.slow
def test_three_workers_on_postgres_survive_a_sigkill(tmp_path: Path, postgres_study) -> None:
    url, name = postgres_study
    space = parse_space(POOL_SPACE, "pool", "test space")
    config = SearchConfig(
        space=space, storage=url, study=name, runs_dir=tmp_path / "runs", heartbeat_s=1,
        stopping="none",  # every trained trial counts exactly; joining workers read the rule
    )  # fmt: skip
    prepared = prepare(config)  # what `searcher run` does before its workers start
    prepared.study.set_user_attr(attrs.TARGET, 6)
    args = [
        "worker",
        "--storage",
        url,
        "--study",
        name,
        "--runs-dir",
        str(tmp_path / "runs"),
        "--heartbeat-s",
        "1",
    ]
    workers = [SearcherProcess([*args, "--seed", str(i)], tmp_path) for i in range(3)]
    workers[1].wait_for(r"epoch 1/")
    workers[1].proc.send_signal(signal.SIGKILL)
    assert workers[1].finish() == -signal.SIGKILL
    assert [w.finish() for w in (workers[0], workers[2])] == [0, 0]
    assert_one_kill_recovered(optuna.load_study(study_name=name, storage=url), target=6)


@pytest.mark.slow
def test_workers_killed_again_and_again_on_postgres_lose_no_reference(
    tmp_path: Path, postgres_study
) -> None:
    """A preemptible pool: three workers in a row are SIGKILLed while training (the references
    come first, so they are the ones killed, one of them twice), then two finish the study."""
    url, name = postgres_study
    space = parse_space(POOL_SPACE, "pool", "test space")
    config = SearchConfig(
        space=space, storage=url, study=name, runs_dir=tmp_path / "runs", heartbeat_s=1,
        references="first",
    )  # fmt: skip
    prepared = prepare(config)
    prepared.study.set_user_attr(attrs.TARGET, 4)
    args = ["worker", "--storage", url, "--study", name, "--runs-dir", str(tmp_path / "runs"),
            "--heartbeat-s", "1"]  # fmt: skip
    for round_ in range(3):
        victim = SearcherProcess([*args, "--seed", str(round_)], tmp_path)
        victim.wait_for(r"epoch 1/")
        victim.proc.send_signal(signal.SIGKILL)
        assert victim.finish() == -signal.SIGKILL
    finishers = [SearcherProcess([*args, "--seed", str(9 + i)], tmp_path) for i in range(2)]
    assert [w.finish() for w in finishers] == [0, 0], finishers[0].output
    records = read_records(optuna.load_study(study_name=name, storage=url))
    assert [r.number for r in records if r.state == "RUNNING"] == []
    killed = [r for r in records if r.status == "failed"]
    assert len(killed) == 3
    trained = [r.attrs[attrs.CANDIDATE_ID] for r in records if r.status == "trained"]
    assert len(set(trained)) == len(trained)  # nothing trained twice
    assert {c.id for c in prepared.space.reference_candidates()} <= set(trained)
    assert sum(r.status in ("trained", "pruned") for r in records) >= 4


@pytest.mark.slow
def test_two_local_workers_on_the_default_sqlite_storage_survive_a_sigkill(tmp_path: Path) -> None:
    (tmp_path / "pool.yaml").write_text(POOL_SPACE)
    args = ["run", "--space", "pool.yaml", "--workers", "2", "--n-trials", "5",
            "--heartbeat-s", "1", "--no-pruning"]  # fmt: skip
    run = SearcherProcess(args, tmp_path)
    pid = int(run.wait_for(r"\[w1 cpu\] worker pid (\d+)").group(1))
    run.wait_for(r"\[w1 cpu\]\s+epoch 1/")
    os.kill(pid, signal.SIGKILL)
    assert run.finish() == 1, run.output  # the pool reports that a worker died
    storage = f"sqlite:///{tmp_path / 'runs' / 'divco.db'}"
    assert_one_kill_recovered(
        optuna.load_study(study_name="digits-pool", storage=storage), target=5
    )


@pytest.mark.slow
def test_sigterm_stops_a_worker_cleanly(tmp_path: Path) -> None:
    (tmp_path / "pool.yaml").write_text(POOL_SPACE)
    run = SearcherProcess(["run", "--space", "pool.yaml", "--n-trials", "5"], tmp_path)
    run.wait_for(r"epoch 1/")
    run.proc.send_signal(signal.SIGTERM)
    assert run.finish() == 130
    assert "interrupted" in run.output and "Traceback" not in run.output
    study = optuna.load_study(
        study_name="digits-pool", storage=f"sqlite:///{tmp_path / 'runs' / 'divco.db'}"
    )
    last = [t for t in study.trials if t.state.is_finished()][-1]
    assert last.state.name == "FAIL" and last.user_attrs[attrs.ERROR] == "interrupted"
    assert attrs.CHECKPOINT not in last.user_attrs


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["worker", "--storage", "postgresql://nobody:secret@127.0.0.1:1/none"], "cannot open storage postgresql://nobody:***@127.0.0.1:1/none"),
        (["worker", "--storage", "sqlite:///x.db", "--cpu-workers", "0"], "argument --cpu-workers: 0 must be >= 1"),
        (["run", "--workers", "0"], "argument --workers: 0 must be >= 1"),
        (["run", "--devices", "7"], "device index 7 does not exist; this machine has"),
        (["run", "--devices", "a,b"], "must be comma-separated GPU indices"),
    ],
)  # fmt: skip
def test_worker_bad_input_is_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # nothing written


def test_worker_with_wrong_postgres_credentials(capsys) -> None:
    url = postgres_or_skip().replace("postgres@", "no_such_role@")
    assert main(["worker", "--storage", url, "--study", "x"]) == 2
    err = capsys.readouterr().err
    assert (
        "cannot open storage" in err
        and "no_such_role" in err
        and len(err.strip().splitlines()) == 1
    )
