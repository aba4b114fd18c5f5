"""Riding out a storage outage: a database restarted, unreachable for a while, or a SQLite file
locked by another writer.

Every storage call that fails because the database did not answer (a refused or dropped
connection, a server shutting down, a locked SQLite file) is retried with exponential backoff,
so a worker neither crashes nor loses a finished trial's result: the call that stores it waits
and writes it when the database answers again. One line says when an outage begins (not one per
retry). Past `limit_s` of unbroken outage the call raises `StorageOutageError`, one line, and
the worker stops with a non-zero exit; its running trial stays as the database last saw it
(running) and other workers fail and retry it through the heartbeat.

Time lost to outages is kept per process (`working_clock`), so waits measured in working time
(a claim waiting for lower-numbered trials, searcher/run/claim.py) do not expire because the
database was away.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import sqlalchemy.exc

from space.errors import DivcoError

DEFAULT_LIMIT_S = 300.0  # --storage-outage-limit: five minutes covers a restart or a failover
FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 5.0

T = TypeVar("T")


class StorageOutageError(DivcoError):
    """The database did not answer for longer than the outage limit."""


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it: Optuna wraps SQLAlchemy errors) says the database did not
    answer, as opposed to a bad request that a retry would only repeat."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(
            current,
            sqlalchemy.exc.OperationalError
            | sqlalchemy.exc.InterfaceError
            | sqlalchemy.exc.DisconnectionError,
        ):
            return True
        current = current.__cause__
    return False


def what_happened(exc: BaseException) -> str:
    """A SQLite file another writer holds is not an absent database: say which it is."""
    locked = "database is locked" in one_line(exc)
    return "is locked by another writer" if locked else "is unreachable"


def one_line(exc: BaseException) -> str:
    current: BaseException = exc
    while current.__cause__ is not None:  # the driver's own words, not Optuna's wrapper
        current = current.__cause__
    text = str(getattr(current, "orig", None) or current) or type(current).__name__
    return " ".join(text.split())[:200]


class _Ledger:
    """Seconds this process spent in outages, over every storage it opened (monotonic time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lost_s = 0.0
        self.ongoing: dict[int, float] = {}  # id(Outage) -> start, while one lasts

    def begin(self, key: int) -> None:
        with self.lock:
            self.ongoing.setdefault(key, time.monotonic())

    def end(self, key: int) -> None:
        with self.lock:
            start = self.ongoing.pop(key, None)
            if start is not None:
                self.lost_s += time.monotonic() - start

    def working_time(self) -> float:
        with self.lock:
            now = time.monotonic()
            return now - self.lost_s - sum(now - start for start in self.ongoing.values())


_LEDGER = _Ledger()


def working_clock() -> float:
    """time.monotonic() less the time this process waited for an absent database."""
    return _LEDGER.working_time()


@dataclass
class Outage:
    """The outage state of one storage, shared by the threads that use it (the main loop and
    Optuna's heartbeat thread)."""

    limit_s: float = DEFAULT_LIMIT_S
    say: Callable[[str], None] = print
    where: str = "the storage"
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    started: float | None = None  # when the current outage began
    ended: float | None = None  # when the last one ended
    gave_up: StorageOutageError | None = None
    count: int = 0  # outages so far
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def call(self, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        """`function(*args, **kwargs)`, retried while the database does not answer."""
        delay = FIRST_BACKOFF_S
        while True:
            try:
                result = function(*args, **kwargs)
            except Exception as exc:
                if not is_outage(exc):
                    self.answered()  # it answered, with an error of the request's own
                    raise
                self.failed(exc)
                self.sleep(delay)
                delay = min(2 * delay, MAX_BACKOFF_S)
                continue
            self.answered()
            return result

    def failed(self, exc: BaseException) -> None:
        """Records a failed call: says so once per outage, raises past the limit."""
        with self.lock:
            now = self.clock()
            if self.started is None:
                self.started, self.count = now, self.count + 1
                _LEDGER.begin(id(self))
                self.say(
                    f"{self.where} {what_happened(exc)} ({one_line(exc)}); retrying with backoff for up "
                    f"to {self.limit_s:g} s (--storage-outage-limit), results are kept until it "
                    "answers"
                )
            elif now - self.started > self.limit_s:
                self.gave_up = StorageOutageError(
                    f"{self.where} did not answer for {now - self.started:.0f} s (--storage-outage-"
                    f"limit {self.limit_s:g} s): {one_line(exc)}. The stored study is intact; "
                    "start this worker again once the database is back"
                )
                _LEDGER.end(id(self))  # this caller stops waiting: the process clock runs again
                raise self.gave_up from None

    def answered(self) -> None:
        if self.started is None:  # the common case: no lock taken
            return
        with self.lock:
            if self.started is None:
                return
            _LEDGER.end(id(self))
            self.started, self.ended, self.gave_up = None, self.clock(), None

    def quiet(self, grace_s: float) -> bool:
        """True during an outage and for `grace_s` after it: every worker's heartbeat was held
        back too, so no trial is judged stale until they had time to beat again."""
        with self.lock:
            if self.started is not None:
                return True
            return self.ended is not None and self.clock() - self.ended < grace_s


def outage_cause(exc: BaseException) -> StorageOutageError | None:
    """The StorageOutageError behind `exc`, if any (Optuna's cleanup can raise its own error
    while the database is away, hiding the one that matters)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageOutageError):
            return current
        current = current.__cause__ or current.__context__
    return None
