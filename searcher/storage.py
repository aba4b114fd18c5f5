"""Opening Optuna storages: an embedded SQLite file by default, any SQLAlchemy URL otherwise.

Optuna's RDB storage is the distributed engine: several workers on several machines that
point at one PostgreSQL URL form one search.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import sqlalchemy.exc

from space.errors import DivcoError

DEFAULT_RUNS_DIR = Path("runs")


class StorageError(DivcoError):
    """The storage URL cannot be opened (unreachable server, bad credentials, bad URL)."""


def default_storage_url(runs_dir: Path = DEFAULT_RUNS_DIR) -> str:
    runs_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{runs_dir / 'divco.db'}"


def open_storage(url: str, heartbeat_interval: int | None = None) -> optuna.storages.BaseStorage:
    """Connects (and creates tables) now, so a bad URL fails before any work is done."""
    kwargs = {}
    if heartbeat_interval is not None:
        kwargs = {"heartbeat_interval": heartbeat_interval, "grace_period": 3 * heartbeat_interval}
    try:
        return optuna.storages.RDBStorage(url, **kwargs)
    except (sqlalchemy.exc.SQLAlchemyError, ValueError, ImportError) as exc:
        raise StorageError(f"cannot open storage {redact(url)}: {_one_line(exc)}") from None


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url


def _one_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return " ".join(text.split())[:300]
