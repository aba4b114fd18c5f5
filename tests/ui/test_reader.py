"""The dashboard's incremental reads, checked by counting the trials fetched from the storage."""

from __future__ import annotations

from pathlib import Path

from searcher.study.records import read_records
from searcher.study.snapshot import read_snapshot
from searcher.study.storage import open_storage
from tests.ui.fake_study import add_trained, finish, make_study, start_running
from ui.reader import StorageReader


def test_a_refresh_reads_only_new_and_unfinished_trials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = make_study(url, trained=30)
    running = start_running(study)
    reader = StorageReader(url).study("fake")

    first = reader.refresh()
    assert reader.source.trials_read == 31  # the first read reads everything, once
    assert [r.status for r in reader.records][-1] == "running"
    frame = reader.frame()

    assert reader.refresh() == first  # nothing new: the revision stays, and so does the table
    assert reader.source.trials_read == 32  # only the trial that was unfinished, again
    assert reader.frame() is frame

    finish(study, running)  # a worker finishes it, and another trial arrives
    add_trained(study, 31, networks=2, width=16)
    assert reader.refresh() == first + 1
    assert reader.source.trials_read == 34  # those two
    statuses = dict(zip(reader.frame()["trial"], reader.frame()["status"], strict=True))
    assert statuses[running.number] == "trained" and statuses[31] == "trained"
    assert reader.records == read_records(study)  # the same records as Optuna's full read

    reader.refresh()
    assert reader.source.trials_read == 34  # all finished: an idle refresh fetches no trial


def test_readers_are_shared_per_storage_and_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    make_study(url, trained=3)
    make_study(url, trained=2, name="other")
    storage = StorageReader(url)
    assert storage.study_names() == ["fake", "other"]
    assert storage.study("fake") is storage.study("fake")
    storage.study("other").refresh()
    assert len(storage.study("other").records) == 2


def test_a_snapshot_is_what_optuna_reads(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = make_study(url, trained=7)
    start_running(study)
    assert read_snapshot(open_storage(url), "fake") == read_records(study)
