"""Racing inside `searcher run`: confirmation seeds for contested points, counted toward the
trial target, within the share, stored where a resumed run and `searcher confirm` reuse them,
and never trained by two workers at once."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

import searcher.run.confirm as confirm_module
import searcher.run.objective
import searcher.run.race_step as race_step
from searcher.cli.main import main
from searcher.run.race_step import Ledger, ledger
from searcher.run.seed_claim import SeedClaims
from searcher.run.trial_run import TrialOutcome
from searcher.study import attrs
from searcher.study.frontier import FRONT_ATTR, front_view, pareto_front
from searcher.study.records import read_records
from searcher.study.seeds import claim_key, confirmation_runs, confirmations
from tests.searcher.test_confirm import FakeEvaluation, FakeResult

EPOCHS = 1  # the tiny space's recipe


def storage(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def load(tmp_path: Path) -> optuna.Study:
    return optuna.load_study(study_name="tiny", storage=storage(tmp_path))


def accuracy_of(candidate: Any, seed: int) -> float:
    """Close accuracies (all within one seed spread of each other), rising with cost."""
    return 0.95 + 0.002 * candidate.width + 0.001 * candidate.networks + 0.001 * (seed % 2)


def fake_trial(candidate: Any, data: Any, config: Any, number: int, *args: Any) -> TrialOutcome:
    values = {
        attrs.ACCURACY: accuracy_of(candidate, config.seed), attrs.MEMBER_ACCURACIES: [0.9],
        attrs.LATENCY_MS: 0.1, attrs.TRAIN_SECONDS: 0.1, attrs.EPOCHS_RUN: EPOCHS,
        attrs.STATUS: "trained", attrs.CHECKPOINT: "unused",
    }  # fmt: skip
    return TrialOutcome(candidate, "trained", values)


@pytest.fixture
def racing(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Trials and confirmation runs both fake (no training); racing starts at 2 points with a
    wide prior spread, so every pair is contested. Returns the confirmation runs trained."""
    calls: list[tuple[str, int]] = []

    def trainer(candidate: Any, data: Any, *, seed: int, **kwargs: Any) -> FakeResult:
        calls.append((candidate.id, seed))
        return FakeResult(FakeEvaluation(accuracy_of(candidate, seed)))

    monkeypatch.setattr(searcher.run.objective, "run_trial", fake_trial)
    monkeypatch.setattr(race_step, "train", trainer)
    monkeypatch.setattr(confirm_module, "train", trainer)
    monkeypatch.setattr(race_step, "RACE_AFTER", 2)
    monkeypatch.setattr(race_step, "PRIOR_SPREAD", 1.0)  # in log(1 - accuracy): an e-fold
    monkeypatch.setattr("searcher.run.seed_claim.SETTLE_S", 0.0)
    return calls


def trained_trials(study: optuna.Study) -> int:
    return sum(r.status == "trained" for r in read_records(study))


def closing_runs(out: str) -> int:
    """The closing pass's runs, from the run's last line of counts (0 when it had none)."""
    found = re.search(r"(\d+) closing confirmation runs", out)
    return int(found.group(1)) if found else 0


def test_contested_points_get_seeds_that_take_slots_of_the_target(
    tmp_path: Path, run_args: list[str], racing: list[tuple[str, int]],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert main([*run_args, "--n-trials", "6", "--confirm-share", "0.5"]) == 0
    out = capsys.readouterr().out
    study = load(tmp_path)
    runs = confirmation_runs(study.user_attrs)
    assert runs == len(racing) >= 1 and len(set(racing)) == len(racing)
    closing = closing_runs(out)  # after the slots: front points still on one seed
    assert trained_trials(study) + runs - closing == 6  # --n-trials counts trainings
    spent = ledger(read_records(study), study.user_attrs, now=0.0)
    within = spent.confirm_epochs - closing * EPOCHS  # the closing pass may pass the share
    assert within <= 0.5 * (spent.trial_epochs + within)
    for number, seeds in confirmations(study.user_attrs).items():
        own = read_records(study)[number]
        assert seeds[str(own.attrs[attrs.SEED])] == own.accuracy  # the trial's own run counts
        assert len(seeds) <= 3
    assert "[confirm trial" in out and "confirmation runs" in out and "tie with" in out
    view = front_view(read_records(study))  # the run ends with no contest on a single run
    assert all(view.seeds(r) >= 2 for r in view.front if view.ties.get(r.number))
    published = study.user_attrs[FRONT_ATTR]  # what a peer client can read
    assert [t["trial"] for t in published["trials"]] == [r.number for r in pareto_front(read_records(study))]  # fmt: skip


def test_no_share_no_confirmation(
    tmp_path: Path, run_args: list[str], racing: list[tuple[str, int]]
) -> None:
    assert main([*run_args, "--n-trials", "4", "--confirm-share", "0"]) == 0
    assert racing == [] and trained_trials(load(tmp_path)) == 4


def test_a_resumed_run_and_searcher_confirm_reuse_the_stored_seeds(
    tmp_path: Path, run_args: list[str], racing: list[tuple[str, int]],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert main([*run_args, "--n-trials", "4", "--confirm-share", "0.5"]) == 0
    closing = closing_runs(capsys.readouterr().out)
    first = len(racing)
    stored = confirmations(load(tmp_path).user_attrs)
    assert first >= 1
    assert main([*run_args, "--n-trials", "2", "--confirm-share", "0.5"]) == 0
    closing += closing_runs(capsys.readouterr().out)
    study = load(tmp_path)
    for number, seeds in stored.items():  # the first run's seeds are kept, not retrained
        assert confirmations(study.user_attrs)[number].items() >= seeds.items()
    assert trained_trials(study) + confirmation_runs(study.user_attrs) - closing == 6
    command = ["confirm", "--storage", storage(tmp_path), "--study", "tiny", "--seeds", "2"]
    assert main(command) == 0
    assert len(set(racing)) == len(racing)  # across both runs and `confirm`: nothing twice


def test_an_interrupted_confirmation_run_frees_its_seed_and_trains_it_once(
    tmp_path: Path, run_args: list[str], racing: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    calls = racing
    counting = race_step.train

    def interrupted_once(candidate: Any, data: Any, **kwargs: Any) -> FakeResult:
        if not getattr(interrupted_once, "done", False):
            interrupted_once.done = True  # type: ignore[attr-defined]
            raise KeyboardInterrupt
        return counting(candidate, data, **kwargs)

    monkeypatch.setattr(race_step, "train", interrupted_once)
    assert main([*run_args, "--n-trials", "4", "--confirm-share", "0.5"]) == 130
    study = load(tmp_path)
    assert not any(v for k, v in study.user_attrs.items() if k.startswith("racing:"))
    assert confirmation_runs(study.user_attrs) == 0
    assert main([*run_args, "--n-trials", "1", "--confirm-share", "0.5"]) == 0
    assert len(calls) == len(set(calls)) >= 1


def test_two_workers_never_hold_one_seed(tmp_path: Path) -> None:
    """Both saw the lease free and both write it: the later write wins, the earlier worker
    reads the other's name after its wait and backs off (Fischer's timed exclusion)."""
    study = optuna.create_study(storage=storage(tmp_path), study_name="tiny")
    b = SeedClaims(study, token="b", settle_s=0.0)
    won_b: list[bool] = []

    def b_writes_meanwhile(_: float) -> None:
        b.write(3, 1, lease_s=60)  # b read the lease before a wrote it
        won_b.append(b.holder(3)["worker"] == "b")  # type: ignore[index]

    a = SeedClaims(study, token="a", settle_s=0.5, sleep=b_writes_meanwhile)
    assert a.take(3, 1, lease_s=60) is False and won_b == [True]
    assert SeedClaims(study, token="c", settle_s=0.0).take(3, 1, lease_s=60) is False  # b holds
    b.release(3)
    assert study.user_attrs[claim_key(3)] is None
    assert SeedClaims(study, token="c", settle_s=0.0).take(3, 1, lease_s=60) is True


def test_an_expired_lease_goes_to_another_worker(tmp_path: Path) -> None:
    study = optuna.create_study(storage=storage(tmp_path), study_name="tiny")
    now = [1000.0]
    clock: Callable[[], float] = lambda: now[0]  # noqa: E731
    dead = SeedClaims(study, token="dead", settle_s=0.0, clock=clock)
    assert dead.take(5, 2, lease_s=30)
    other = SeedClaims(study, token="other", settle_s=0.0, clock=clock)
    assert not other.take(5, 2, lease_s=30)
    now[0] += 31  # the dead worker never renewed it
    assert other.take(5, 2, lease_s=30)


def test_the_ledger_keeps_confirmation_within_the_share() -> None:
    assert Ledger(trial_epochs=30, confirm_epochs=0).allows(6, share=0.25)  # 6 <= 9
    assert not Ledger(trial_epochs=30, confirm_epochs=6).allows(6, share=0.25)  # 12 > 10.5
    assert not Ledger(trial_epochs=30, confirm_epochs=0).allows(6, share=0.0)


def test_the_share_counts_the_training_since_racing_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trials up to the one that made RACE_AFTER trained points owe no seeds: counting them let
    racing spend its whole share in a burst the moment it opened."""
    from searcher.study.records import TrialRecord

    monkeypatch.setattr(race_step, "RACE_AFTER", 2)
    done = {attrs.EPOCHS_RUN: 10}
    records = [TrialRecord(0, "COMPLETE", "trained", done), TrialRecord(1, "COMPLETE", "pruned", {attrs.EPOCHS_RUN: 4}),
               TrialRecord(2, "COMPLETE", "trained", done), TrialRecord(3, "COMPLETE", "trained", done),
               TrialRecord(4, "FAIL", "failed", done), TrialRecord(5, "COMPLETE", "pruned", {attrs.EPOCHS_RUN: 4})]  # fmt: skip
    assert ledger(records, {}, now=0.0).trial_epochs == 14  # trials 3 and 5
    assert ledger(records[:3], {}, now=0.0).trial_epochs == 0


def test_racing_opens_with_the_trained_points_not_halfway_through_the_slots(
    tmp_path: Path, run_args: list[str], racing: list[tuple[str, int]],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Racing follows the front as it grows, as the replay benchmark measured it: the first
    seed comes right after the trial that opened racing (RACE_AFTER 2 here), not once half of
    the run's 8 slots are spent (a wait whose owed share came in one burst)."""
    assert main([*run_args, "--n-trials", "8", "--confirm-share", "0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    first = next(i for i, line in enumerate(lines) if "[confirm trial" in line)
    trials_before = {
        m.group(1) for line in lines[:first] if (m := re.search(r"\[trial (\d+)\]", line))
    }
    assert len(trials_before) <= 3  # trained: 2 open racing, then one trial counts toward the share


def test_the_closing_pass_confirms_a_contested_front_point_the_last_slot_trained(
    tmp_path: Path, run_args: list[str], racing: list[tuple[str, int]],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A share that leaves the last slots to new trials: a contested front point still on one
    seed when the slots are spent gets its second seed (beyond the target, within the share)."""
    assert main([*run_args, "--n-trials", "5", "--confirm-share", "0.34"]) == 0
    out = capsys.readouterr().out
    study = load(tmp_path)
    closing = closing_runs(out)
    assert closing >= 1
    assert trained_trials(study) + confirmation_runs(study.user_attrs) - closing == 5
    view = front_view(read_records(study))
    assert all(view.seeds(r) >= 2 for r in view.front if view.ties.get(r.number))


def test_the_closing_pass_gives_each_contested_front_point_one_more_seed_up_to_the_cap(
    tmp_path: Path, run_args: list[str], racing: list[tuple[str, int]],
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """After the slots, one round over the contested front: a point racing left on two seeds
    gets its third (the cap), a point on one seed its second, and no point a second run in the
    same pass. Every pair here is within a seed spread (a tie at the cap): the test lets the
    pass treat them as settleable, so only the round and the cap bound it."""
    monkeypatch.setattr(race_step, "settleable", lambda points, *args: {p.key for p in points})
    assert main([*run_args, "--n-trials", "6", "--confirm-share", "0.34"]) == 0
    lines = capsys.readouterr().out.splitlines()
    last_trial = max(i for i, line in enumerate(lines) if re.search(r"^\[trial \d+\]", line))
    closing = [
        m
        for line in lines[last_trial:]
        if (m := re.search(r"\[confirm trial (\d+)\].*run (\d) ", line))
    ]
    numbers = [m.group(1) for m in closing]
    assert len(numbers) == closing_runs("\n".join(lines)) > 0
    assert len(set(numbers)) == len(numbers)  # one run per point in the pass
    assert "3" in {m.group(2) for m in closing}  # a two-seed point got its third
    study = load(tmp_path)
    assert max(len(seeds) for seeds in confirmations(study.user_attrs).values()) <= 3


def test_the_closing_pass_gives_no_third_seed_to_a_tie_the_cap_cannot_settle(
    tmp_path: Path, run_args: list[str], racing: list[tuple[str, int]],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The same run without the lift: its pairs stay ties at three seeds, so the closing pass
    gives second seeds only."""
    assert main([*run_args, "--n-trials", "6", "--confirm-share", "0.34"]) == 0
    lines = capsys.readouterr().out.splitlines()
    last_trial = max(i for i, line in enumerate(lines) if re.search(r"^\[trial \d+\]", line))
    runs = {
        m.group(1)
        for line in lines[last_trial:]
        if (m := re.search(r"\[confirm trial \d+\].*run (\d) ", line))
    }
    assert closing_runs("\n".join(lines)) > 0 and runs == {"2"}
