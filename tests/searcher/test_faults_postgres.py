"""A shared study on PostgreSQL under faults, with real processes: the database restarted in
the middle of a search, and the leader (`searcher run`) SIGKILLed while a joined worker runs.

The restart test starts a PostgreSQL server of its own (initdb into a temporary folder, a free
port), since the suite's server on localhost:5432 is shared; it skips, saying why, where no
PostgreSQL binaries are installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from searcher.study import attrs
from searcher.study.records import read_records
from tests.searcher.processes import POOL_SPACE, SearcherProcess
from tests.searcher.test_workers import postgres_or_skip

PG_BIN = Path(os.environ.get("DIVCO_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class TemporaryPostgres:
    """A throwaway PostgreSQL server: trust auth, no fsync, its socket in its own folder."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.data = directory, directory / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self.as_owner, *args], check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        if self.as_owner:  # initdb refuses to run as root: the folder is the postgres user's
            shutil.chown(self.directory, "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "--no-instructions")  # fmt: skip

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off")  # fmt: skip
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-t", "60",
                  "-l", str(self.directory / "log"), "start")  # fmt: skip

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def temporary_postgres() -> Iterator[TemporaryPostgres]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL binaries in {PG_BIN} (set DIVCO_TEST_PG_BIN)")
    directory = Path(tempfile.mkdtemp(prefix="divco-pg-"))
    server = TemporaryPostgres(directory)
    try:
        try:
            server.init()
            server.start()
        except (subprocess.SubprocessError, OSError, LookupError) as exc:
            pytest.skip(f"cannot start a temporary PostgreSQL server: {exc}")
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def assert_target_exact(study: optuna.Study, target: int) -> list:
    records = read_records(study)
    assert [r.number for r in records if r.state == "RUNNING"] == []
    trained = [r.attrs[attrs.CANDIDATE_ID] for r in records if r.status == "trained"]
    assert len(trained) == target
    assert len(set(trained)) == len(trained)  # nothing trained twice
    return records


def finish_or_show(process: SearcherProcess, timeout: float = 600) -> int:
    try:
        return process.finish(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("still running; output:\n" + process.output) from None


def test_a_search_survives_a_database_restart(tmp_path: Path, temporary_postgres) -> None:
    (tmp_path / "pool.yaml").write_text(POOL_SPACE)
    url = temporary_postgres.url
    run = SearcherProcess(
        ["run", "--space", "pool.yaml", "--storage", url, "--study", "restart", "--workers", "2",
         "--n-trials", "4", "--heartbeat-s", "1", "--no-pruning"], tmp_path,
    )  # fmt: skip
    run.wait_for(r"epoch 1/")
    temporary_postgres.stop()  # every connection dropped mid-trial
    time.sleep(3)  # longer than the grace period of 3 heartbeats: every trial looks stale
    temporary_postgres.start()
    assert finish_or_show(run) == 0, run.output
    lines = [line for line in run.lines if "is unreachable" in line]
    assert 1 <= len(lines) <= 2, run.output  # one per worker that noticed the outage
    assert all("--storage-outage-limit" in line for line in lines)
    assert "Traceback" not in run.output
    records = assert_target_exact(optuna.load_study(study_name="restart", storage=url), 4)
    assert all(r.status != "failed" for r in records), run.output  # no trial judged stale


def test_a_killed_leader_leaves_its_study_to_the_workers_and_the_same_command_resumes(
    tmp_path: Path,
) -> None:
    url, name = postgres_or_skip(), f"divco-test-{uuid.uuid4().hex[:8]}"
    # 2 epochs: the leader is killed in its second; 3 trials: the 2 references and one more
    (tmp_path / "pool.yaml").write_text(POOL_SPACE.replace("epochs: 4,", "epochs: 2,"))
    command = ["run", "--space", "pool.yaml", "--storage", url, "--study", name,
               "--n-trials", "3", "--heartbeat-s", "1", "--no-pruning"]  # fmt: skip
    try:
        leader = SearcherProcess(command, tmp_path)
        leader.wait_for(r"until the study holds 3 trained")
        worker = SearcherProcess(
            ["worker", "--storage", url, "--study", name, "--heartbeat-s", "1"], tmp_path
        )
        leader.wait_for(r"epoch 1/")
        leader.kill()
        again = SearcherProcess(command, tmp_path)  # the same command, while the worker runs
        again.wait_for(r"until the study holds 3 trained")  # resumed, not 3 more
        codes = [finish_or_show(worker), finish_or_show(again)]
        assert codes == [0, 0], worker.output + again.output
        records = assert_target_exact(optuna.load_study(study_name=name, storage=url), 3)
        killed = [r for r in records if r.status == "failed"]
        assert len(killed) == 1  # the leader's trial, failed by the heartbeat and retrained
        retrained = [r for r in records if r.status == "trained"
                     and r.attrs[attrs.CANDIDATE_ID] == killed[0].attrs[attrs.CANDIDATE_ID]]  # fmt: skip
        assert len(retrained) == 1
    finally:
        SearcherProcess.kill_all()
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=name, storage=url)
