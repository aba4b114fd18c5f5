"""Opening Optuna storages: an embedded SQLite file by default, any SQLAlchemy URL otherwise.

Optuna's RDB storage is the distributed engine: several workers on several machines that
point at one PostgreSQL URL form one search.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.event
import sqlalchemy.exc

from searcher.study.outage import DEFAULT_LIMIT_S, Outage
from searcher.study.resilient import ResilientStorage, read_only_call
from space.errors import DivcoError

DEFAULT_RUNS_DIR = Path("runs")


class StorageError(DivcoError):
    """The storage URL cannot be opened (unreachable server, bad credentials, bad URL)."""


def default_storage_url(runs_dir: Path = DEFAULT_RUNS_DIR) -> str:
    runs_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{runs_dir / 'divco.db'}"


SQLITE_BUSY_TIMEOUT_S = 60
# A worker keeps one idle connection to a database server (SQLAlchemy's default keeps up to 5:
# with the heartbeat thread's, 2 per worker, so 64 workers overran PostgreSQL's default
# max_connections of 100); a beat that finds it busy opens a second for the moment.
SERVER_POOL: dict[str, Any] = {"pool_size": 1, "max_overflow": 4}
# libpq: give up connecting after 10 s; a connection whose peer vanished (no reset, e.g. a
# network partition) is declared dead after ~25 s of unanswered keepalives
POSTGRES_TIMEOUTS = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 10,
                     "keepalives_interval": 5, "keepalives_count": 3}  # fmt: skip


def open_storage(
    url: str,
    heartbeat_interval: int | None = None,
    outage_limit_s: float = DEFAULT_LIMIT_S,
    worker: str = "",
) -> optuna.storages.BaseStorage:
    """Connects (and creates tables) now, so a bad URL fails before any work is done.

    With a heartbeat, a trial whose worker stops beating for 3 intervals is marked failed by the
    next worker that starts a trial; the search loop enqueues its candidate again
    (searcher/run/recovery.py: as often as it is killed, not once as Optuna's retry callback).
    Once open, a database that stops answering is waited for, up to `outage_limit_s`
    (searcher/study/outage.py). SQLite is made safe for several local worker processes: WAL mode
    (readers never block the writer), a long busy timeout (a writer waits for the lock instead
    of failing) and transactions that take the write lock when they begin, so a read and the
    write that depends on it are one step (two workers never pop the same queued trial).
    """
    kwargs: dict[str, Any] = {}
    if heartbeat_interval is not None:  # "experimental" in Optuna since 2.8, stable in practice
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        kwargs = {"heartbeat_interval": heartbeat_interval, "grace_period": 3 * heartbeat_interval}
    sqlite = url.startswith("sqlite:///")
    if sqlite:
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    else:  # a connection the server dropped (restart, failover) is replaced, not used
        kwargs["engine_kwargs"] = {"pool_pre_ping": True}
        if not url.startswith("sqlite"):
            kwargs["engine_kwargs"] |= SERVER_POOL
        if url.startswith("postgresql"):  # a silent network fails a call instead of hanging it
            kwargs["engine_kwargs"]["connect_args"] = POSTGRES_TIMEOUTS
    label = f"[{worker}] " if worker else ""  # a pool's worker, as its progress lines say
    outage = Outage(
        limit_s=outage_limit_s,
        say=lambda line: print(f"searcher: {label}{line}", file=sys.stderr, flush=True),
        where=f"the storage {redact(url)}",
    )

    def connect() -> ResilientStorage:
        if sqlite:
            _use_wal(url.removeprefix("sqlite:///"))
        return ResilientStorage(url, outage, **kwargs)

    try:
        # a pool's worker joins a storage its leader has just reached: an outage then is waited
        # for; a first connection fails at once, so a bad URL is one line, not a wait
        storage = outage.call(connect) if worker else connect()
    except (sqlalchemy.exc.SQLAlchemyError, sqlite3.Error, ValueError, ImportError) as exc:
        raise StorageError(f"cannot open storage {redact(url)}: {_one_line(exc)}") from None
    if sqlite:
        _begin_immediate(storage.engine)
    return storage


def _begin_immediate(engine: sqlalchemy.engine.Engine) -> None:
    """SQLite transactions that take the write lock at BEGIN (SQLAlchemy's pysqlite recipe).

    Python's sqlite3 starts a transaction only at the first write, after the reads it depends
    on: two processes could both read a queued trial as waiting and both take it. BEGIN
    IMMEDIATE serialises each storage call that writes, whole; the busy timeout makes the others
    wait. Calls that only read (polling the study) begin a plain transaction: a consistent
    snapshot, no lock."""

    def on_connect(connection: sqlite3.Connection, _record: object) -> None:
        connection.isolation_level = None  # the driver emits no BEGIN of its own

    def on_begin(connection: sqlalchemy.engine.Connection) -> None:
        # a call that only reads needs no lock at all in WAL mode: it never waits, nor blocks
        connection.exec_driver_sql("BEGIN" if read_only_call() else "BEGIN IMMEDIATE")

    sqlalchemy.event.listen(engine, "connect", on_connect)
    sqlalchemy.event.listen(engine, "begin", on_begin)
    engine.dispose()  # connections opened while creating the tables predate the hooks


def _use_wal(path: str) -> None:
    """WAL is a property of the database file: set once, every later connection uses it."""
    if path in ("", ":memory:"):
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url


def _one_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return " ".join(text.split())[:300]
