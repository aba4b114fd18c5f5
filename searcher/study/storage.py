"""Opening Optuna storages: an embedded SQLite file by default, any SQLAlchemy URL otherwise.

Optuna's RDB storage is the distributed engine: several workers on several machines that
point at one PostgreSQL URL form one search.
"""

from __future__ import annotations

import contextlib
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc

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


def open_storage(url: str, heartbeat_interval: int | None = None) -> optuna.storages.BaseStorage:
    """Connects (and creates tables) now, so a bad URL fails before any work is done.

    With a heartbeat, a trial whose worker stops beating for 3 intervals is marked failed by the
    next worker that starts a trial; the search loop enqueues its candidate again
    (searcher/run/recovery.py: as often as it is killed, not once as Optuna's retry callback).
    SQLite is made safe for several local worker processes: WAL mode (readers never block the
    writer) and a long busy timeout (a writer waits for the lock instead of failing).
    """
    kwargs: dict[str, Any] = {}
    if heartbeat_interval is not None:  # "experimental" in Optuna since 2.8, stable in practice
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        kwargs = {"heartbeat_interval": heartbeat_interval, "grace_period": 3 * heartbeat_interval}
    try:
        if url.startswith("sqlite:///"):
            _use_wal(url.removeprefix("sqlite:///"))
            kwargs["engine_kwargs"] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
        elif not url.startswith("sqlite"):
            kwargs["engine_kwargs"] = SERVER_POOL
        return optuna.storages.RDBStorage(url, **kwargs)
    except (sqlalchemy.exc.SQLAlchemyError, sqlite3.Error, ValueError, ImportError) as exc:
        raise StorageError(f"cannot open storage {redact(url)}: {_one_line(exc)}") from None


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
