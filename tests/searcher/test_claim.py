"""The claim under forced interleavings: no candidate trained twice, no target overshot."""

from __future__ import annotations

import optuna
import pytest

from searcher.run.claim import CLAIMING, UNDECIDED, claim
from searcher.study import attrs


def study_with_two_asked_trials(ids: tuple[str, str]) -> tuple[optuna.Study, list[optuna.Trial]]:
    study = optuna.create_study(directions=["maximize", "minimize"])
    trials = [study.ask(), study.ask()]  # numbers 0 and 1, assigned before any attribute
    for trial, cid in zip(trials, ids, strict=True):
        trial.set_user_attr(attrs.CANDIDATE_ID, cid)
    return study, trials


def undecided_below(study: optuna.Study, number: int) -> list[int]:
    return [
        t.number
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if t.number < number and t.user_attrs.get(attrs.STATUS) in UNDECIDED
    ]


def test_a_higher_trial_waits_for_a_lower_undecided_one_and_yields_to_its_twin() -> None:
    """Trial 1 claims first while trial 0 (same candidate) has not yet written a status: the
    interleaving that let both train. Trial 1 must wait; trial 0 claims during that wait."""
    study, (low, high) = study_with_two_asked_trials(("same", "same"))
    polls = []

    def poll() -> None:  # what happens while trial 1 waits: trial 0 claims
        polls.append(undecided_below(study, high.number))
        if len(polls) == 1:
            assert claim(low, "same", target=10).outcome == "training"

    decision = claim(high, "same", target=10, poll=poll)
    assert polls[0] == [low.number]  # it did wait for trial 0
    assert decision.outcome == "duplicate" and decision.twin == low.number
    assert low.user_attrs[attrs.STATUS] == "training"
    assert study.trials[1].user_attrs[attrs.STATUS] == CLAIMING  # the caller records duplicate


def test_a_lower_trial_never_waits_for_higher_ones_and_wins() -> None:
    _study, (low, high) = study_with_two_asked_trials(("same", "same"))
    high.set_user_attr(attrs.STATUS, CLAIMING)  # trial 1 is mid-claim
    waited = []
    decision = claim(low, "same", target=10, poll=lambda: waited.append(1))
    assert decision.outcome == "training" and waited == []
    assert claim(high, "same", target=10, poll=pytest.fail).outcome == "duplicate"


def test_every_claimant_counts_toward_the_target() -> None:
    """Two different candidates race for the last slot (target 1): only one trains."""
    _study, (low, high) = study_with_two_asked_trials(("a", "b"))

    def poll() -> None:
        if low.user_attrs.get(attrs.STATUS) is None:
            claim(low, "a", target=1)

    assert claim(high, "b", target=1, poll=poll).outcome == "surplus"
    assert low.user_attrs[attrs.STATUS] == "training"


def test_references_are_exempt_from_the_target_but_not_from_duplicates() -> None:
    _study, (low, high) = study_with_two_asked_trials(("a", "ref"))
    claim(low, "a", target=1)
    assert claim(high, "ref", target=None).outcome == "training"


def test_a_dead_undecided_trial_is_waited_for_only_until_the_limit() -> None:
    _study, (_low, high) = study_with_two_asked_trials(("a", "b"))
    now = [0.0]

    polls = []

    def poll() -> None:
        polls.append(now[0])
        now[0] += 1.0

    decision = claim(high, "b", target=1, poll=poll, wait_limit_s=3.0, clock=lambda: now[0])
    assert decision.outcome == "training"  # trial 0 never decided: ignored after the limit
    assert polls == [0.0, 1.0, 2.0]


def test_a_lost_reference_keeps_its_slot_of_the_target() -> None:
    """Target 2, references R1 and R2: R1 trained, R2's worker was killed (its trial failed and
    R2 is queued again, exempt from the target). A new candidate must not take R2's slot: when
    R2's retry trains, the study would hold 3 trained for a target of 2."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    for cid, state in (("R1", optuna.trial.TrialState.COMPLETE), ("R2", optuna.trial.TrialState.FAIL)):  # fmt: skip
        trial = study.ask()
        trial.set_user_attr(attrs.CANDIDATE_ID, cid)
        trial.set_user_attr(attrs.STATUS, "trained" if cid == "R1" else "training")
        study.tell(trial, [0.9, 1.0] if state == optuna.trial.TrialState.COMPLETE else None, state=state)  # fmt: skip
    new = study.ask()
    new.set_user_attr(attrs.CANDIDATE_ID, "a")
    references = frozenset({"R1", "R2"})
    assert claim(new, "a", target=2, references=references).outcome == "surplus"
    assert claim(new, "a", target=3, references=references).outcome == "training"
    retry = study.ask()
    assert claim(retry, "R2", target=None, references=references).outcome == "training"


def finished(study: optuna.Study, cid: str, status: str, seed: int = 0) -> int:
    """A finished trial of `cid`: trained (COMPLETE) or stopped by the early-stopping rule."""
    trial = study.ask()
    trial.set_user_attr(attrs.CANDIDATE_ID, cid)
    trial.set_user_attr(attrs.SEED, seed)
    trial.set_user_attr(attrs.STATUS, status)
    if status == "trained":
        study.tell(trial, [0.9, 1.0])
    else:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    return trial.number


def test_a_stopped_candidate_proposed_again_trains_once_more_with_the_next_seed() -> None:
    """An early-stopping rule judged one seed's curve: the candidate's first re-proposal
    retrains it with another seed (one above the stopped run's, which may have been another
    worker's); once retried, further proposals are duplicates."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    finished(study, "a", "pruned", seed=4)
    retry = study.ask()
    retry.set_user_attr(attrs.CANDIDATE_ID, "a")  # as the objective does before claiming
    decision = claim(retry, "a", target=10)
    assert (decision.outcome, decision.attempt, decision.retry_seed) == ("training", 1, 5)
    assert retry.user_attrs[attrs.STATUS] == "training"
    retry.set_user_attr(attrs.STATUS, "pruned")  # stopped again
    study.tell(retry, state=optuna.trial.TrialState.PRUNED)
    third = claim(study.ask(), "a", target=10)
    assert (third.outcome, third.twin) == ("duplicate", retry.number)


def test_a_trained_twin_wins_over_a_retry_and_a_retry_counts_toward_the_target() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    finished(study, "a", "pruned")
    trained = finished(study, "a", "trained")  # the retry trained
    decision = claim(study.ask(), "a", target=10)
    assert (decision.outcome, decision.twin) == ("duplicate", trained)
    full = optuna.create_study(directions=["maximize", "minimize"])
    finished(full, "b", "pruned")
    finished(full, "c", "trained")
    surplus = full.ask()
    assert claim(surplus, "b", target=2).outcome == "surplus"
    surplus.set_user_attr(attrs.STATUS, "surplus")  # as the objective records it
    assert claim(full.ask(), "b", target=3, poll=pytest.fail).attempt == 1


def test_a_waiting_claim_reads_the_whole_study_only_when_a_lower_trial_moves_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With many workers a full read of every running trial per poll filled the machine: while
    nothing changes the wait polls only the trial it waits for, and the decision still rests on
    a full read taken after the lower trial decided."""
    study, (low, high) = study_with_two_asked_trials(("same", "same"))
    read_all, full_reads, polls = study.get_trials, [], []

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        full_reads.append(len(polls))
        return read_all(*args, **kwargs)

    monkeypatch.setattr(study, "get_trials", counted)

    def poll() -> None:  # trial 0 claims at the fifth poll
        polls.append(1)
        if len(polls) == 5:
            assert claim(low, "same", target=10).outcome == "training"

    decision = claim(high, "same", target=10, poll=poll)
    assert decision.outcome == "duplicate" and decision.twin == low.number
    assert len(polls) == 5
    # the first read, trial 0's own claim (one read), and one read after trial 0 moved on
    assert full_reads == [0, 5, 5]  # polls before each full read: none in polls 1-4
