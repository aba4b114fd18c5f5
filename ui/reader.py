"""Incremental reads of a stored study, for a dashboard that refreshes every few seconds.

Opening a storage and reading every trial through Optuna costs seconds on a study of thousands
of trials; the dashboard instead keeps one storage and one `TrialSource` per URL and study for
the server's life. Each refresh then reads, with plain SQL, only trials that are new or were
unfinished at the last read (finished trials never change), and the records, the table and the
chart specs are rebuilt only when that read found a change. Nothing here writes to the storage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

import optuna
import pandas as pd

from searcher.study.frontier import FrontView
from searcher.study.records import TrialRecord, with_confirmations
from searcher.study.seeds import confirmation_key, confirmations
from searcher.study.snapshot import TrialSource
from ui.data import frame_of, front_numbers, trial_row, view_of

MEMO_ENTRIES = 64  # derived values kept per revision (a budget slider makes a few)


def open_readonly(url: str) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage without creating tables: the dashboard never writes."""
    return optuna.storages.RDBStorage(url, skip_table_creation=True)


class StudyReader:
    """One study, read incrementally. Thread-safe: every browser session shares it."""

    def __init__(self, storage: optuna.storages.BaseStorage, study: str) -> None:
        self.name = study
        self.source = TrialSource(storage, study)
        # `searcher confirm` stores seeds as study attributes (finished trials are read-only)
        self._storage, self._study_id = storage, storage.get_study_id_from_name(study)
        self._confirmed: dict[int, dict[str, float]] = {}
        self._lock = threading.Lock()
        self._records: dict[int, TrialRecord] = {}
        self._rows: dict[int, dict[str, Any]] = {}  # table rows, built once per trial version
        self._ordered: list[TrialRecord] = []
        self._frame: pd.DataFrame | None = None
        self._memo: dict[Hashable, Any] = {}
        self.revision = 0  # grows by one whenever a refresh finds new or changed trials

    def refresh(self) -> int:
        """Reads what changed since the last refresh; returns the revision after it."""
        with self._lock:
            changed = False
            confirmed = confirmations(self._storage.get_study_user_attrs(self._study_id))
            fresh = self.source.read()
            if confirmed != self._confirmed:  # re-overlay the trials whose seeds changed
                moved = {n for n in {*confirmed, *self._confirmed}
                         if confirmed.get(n) != self._confirmed.get(n)}  # fmt: skip
                fresh += [self._records[n] for n in moved if n in self._records]
                self._confirmed = confirmed
            for record in with_confirmations(fresh, study_confirmations(confirmed)):
                if self._records.get(record.number) != record:
                    self._records[record.number] = record
                    self._rows.pop(record.number, None)
                    changed = True
            if changed:
                self._ordered = [self._records[n] for n in sorted(self._records)]
                self._frame = None
                self._memo = {}
                self.revision += 1
            return self.revision

    @property
    def records(self) -> list[TrialRecord]:
        return self._ordered

    def frame(self) -> pd.DataFrame:
        """The trials as a table, built once per revision."""
        with self._lock:
            if self._frame is None:
                for r in self._ordered:
                    if r.number not in self._rows:
                        self._rows[r.number] = trial_row(r, self.name)
                self._frame = frame_of([self._rows[r.number] for r in self._ordered])
            return self._frame

    def memo(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """`build()` once per revision and key: chart specs and other derived values that cost
        tenths of a second are not rebuilt by a rerun that found nothing new."""
        with self._lock:
            revision, memo = self.revision, self._memo
        if key not in memo:
            value = build()
            with self._lock:
                if self.revision == revision and len(memo) < MEMO_ENTRIES:
                    memo[key] = value
            return value
        return memo[key]

    def front(self, cost: str) -> list[int]:
        """Pareto-front trial numbers (`searcher frontier`'s function), once per revision."""
        records = self._ordered
        return self.memo(("front", cost), lambda: front_numbers(records, cost))

    def view(self, cost: str) -> FrontView:
        """The front with the seed spread and its ties, once per revision."""
        records = self._ordered
        return self.memo(("view", cost), lambda: view_of(records, cost))


class StorageReader:
    """One storage URL: its study names and a `StudyReader` per study, opened once."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._storage = open_readonly(url)
        self._studies: dict[str, StudyReader] = {}
        self._lock = threading.Lock()

    def study_names(self) -> list[str]:
        return sorted(s.study_name for s in self._storage.get_all_studies())

    def study(self, name: str) -> StudyReader:
        with self._lock:
            if name not in self._studies:
                self._studies[name] = StudyReader(self._storage, name)
            return self._studies[name]


def study_confirmations(confirmed: dict[int, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {confirmation_key(number): seeds for number, seeds in confirmed.items()}
