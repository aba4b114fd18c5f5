"""The calibrated, hedged stopping rule on hand-made curve tables: nothing is trained."""

from __future__ import annotations

import random
from types import SimpleNamespace

import optuna
import pytest

from searcher.cli.main import build_parser
from searcher.cli.options import search_config
from searcher.run.asha import AshaStopper, RungEntry, dominates, nondominated_fronts
from searcher.run.calibrated import (
    CalibratedStopper,
    Run,
    calibrate,
    front_members,
    hedged,
    runs_of,
    seed_spread,
)
from searcher.run.config import SearchConfig
from searcher.run.objective import TrialObjective
from searcher.study import attrs
from searcher.study.records import TrialRecord
from space.search_space import load_space
from trainers.train.cotrain import EpochReport, StopTraining
from trainers.train.evaluate import Evaluation


def report(epoch: int, accuracy: float, epochs: int = 6) -> EpochReport:
    return EpochReport(epoch, epochs, 1.0, 0.0, Evaluation(accuracy, (accuracy,), 1.0, 100), 1.0)


def record(number: int, gflops: float, curve: list[float], candidate: str = "") -> TrialRecord:
    values = {attrs.GFLOPS: gflops, attrs.CURVE: curve,
              attrs.CANDIDATE_ID: candidate or f"c{number}"}  # fmt: skip
    return TrialRecord(number, "COMPLETE", "trained", values)


def curve(at_rung: float, final: float) -> list[float]:
    """Six epochs; the rung (epoch 2) accuracy and the final one are what the rule reads."""
    return [at_rung - 0.05, at_rung, (at_rung + final) / 2, final, final, final]


# Twelve finished runs, costs rising with the number (GFLOPs 1e-4 .. 1.2e-3). The expensive
# half ends on the front (final accuracy rising with cost) but starts slowly: at epoch 2 they
# rank below the cheap half. An early rung that cuts them would lose the front.
SLOW_STARTERS = [
    record(n, 1e-4 * (n + 1), curve(0.70 - 0.01 * n, 0.80 + 0.001 * n) if n < 6
           else curve(0.30 + 0.01 * n, 0.90 + 0.01 * n))
    for n in range(12)
]  # fmt: skip


# The same costs, but the rung ranks as the end does: four cheap runs rise together at epoch 2
# and at the end (the front); eight costlier runs are clear losers all along (four candidates
# run with two seeds each, 0.1 apart at epoch 2: the measured seed spread at the rung).
def agreeing(seeds: bool = True) -> list[TrialRecord]:
    return [
        record(n, 1e-4 * (n + 1), curve(0.60 + 0.05 * n, 0.85 + 0.03 * n)) if n < 4
        else record(n, 1e-4 * (n + 1), curve(0.20 + 0.1 * (n % 2), 0.30),
                    f"loser{n // 2}" if seeds else "")
        for n in range(12)
    ]  # fmt: skip


AGREEING = agreeing()


def stopper(records: list[TrialRecord], gflops: float, **kwargs: object) -> CalibratedStopper:
    return CalibratedStopper(gflops, records, number=100, hedge=0.0, **kwargs)  # type: ignore[arg-type]


def test_a_misleading_early_rung_never_stops_a_slow_starting_front_member() -> None:
    runs = runs_of(SLOW_STARTERS)
    calibration = calibrate(runs, 2, eta=3, evidence=4, max_miss=0.0, prior=0.01)
    assert calibration.checked >= 6 and calibration.cut > 0 and not calibration.reliable
    # A new expensive slow starter: classic MO-ASHA stops it at epoch 2 ...
    with pytest.raises(StopTraining):
        AshaStopper(1.3e-3, SLOW_STARTERS, number=100)(report(2, 0.40))
    # ... the calibrated rule lets it run, and it would have ended on the front.
    rule = stopper(SLOW_STARTERS, 1.3e-3, evidence=4)
    for epoch, accuracy in enumerate(curve(0.40, 0.99), 1):
        rule(report(epoch, accuracy))
    assert rule.stopped_at is None and not rule.calibrations[0].reliable


def test_a_reliable_rung_stops_clear_losers_and_saves_their_epochs() -> None:
    calibration = calibrate(runs_of(AGREEING), 2, eta=3, evidence=4, max_miss=0.0, prior=0.01)
    assert calibration.reliable and calibration.cut == 0 and calibration.checked >= 4
    rule = stopper(AGREEING, 1.3e-3, evidence=4)
    with pytest.raises(StopTraining):  # costliest of all and the worst at the rung
        rule(report(2, 0.15))
    assert rule.stopped_at == 2  # four of six epochs saved
    stopper(AGREEING, 1.3e-3, evidence=4)(report(2, 0.85))  # best at the rung: continues


def test_before_enough_evidence_no_rung_judges() -> None:
    few = AGREEING[:5]
    assert not calibrate(runs_of(few), 2, 3, evidence=6, max_miss=0.0, prior=0.01).reliable
    stopper(few, 1.3e-3, evidence=6)(report(2, 0.01))  # no StopTraining


def test_a_near_tie_with_the_cut_continues() -> None:
    assert seed_spread(runs_of(AGREEING), 2, prior=0.0) == pytest.approx(0.1 / 0.954)
    # 0.74 at the rung: the costliest run, just below the cheaper 0.75, so ranked out of the
    # top third; within the measured spread of the cut, it continues ...
    stopper(AGREEING, 1.3e-3, evidence=4)(report(2, 0.74))
    # ... while with no candidate trained twice (and no prior) the same accuracy is cut.
    with pytest.raises(StopTraining):
        stopper(agreeing(seeds=False), 1.3e-3, evidence=4, prior=0.0)(report(2, 0.74))


def test_hedged_trials_are_an_exact_evenly_spread_share_and_never_stopped() -> None:
    assert sum(hedged(n, 0.2) for n in range(100)) == 20
    assert [n for n in range(15) if hedged(n, 0.2)] == [4, 9, 14]
    assert not any(hedged(n, 0.0) for n in range(50))
    rule = CalibratedStopper(1.3e-3, AGREEING, number=4, hedge=0.2, evidence=4)
    rule(report(2, 0.01))  # a hedged number: the reliable rung does not judge it
    CalibratedStopper(1.3e-3, AGREEING, number=5, evidence=4, exempt=True)(report(2, 0.01))


def test_the_rule_rereads_the_records_and_never_stops_the_last_epoch() -> None:
    calls: list[int] = []

    def source() -> list[TrialRecord]:
        calls.append(1)
        return AGREEING

    rule = CalibratedStopper(1.3e-3, source, number=100, hedge=0.0, evidence=4)
    rule(report(1, 0.01))
    assert calls == []  # not a rung: no read
    with pytest.raises(StopTraining):
        rule(report(2, 0.01))
    assert calls == [1]
    stopper(AGREEING, 1.3e-3, min_epochs=1)(report(2, 0.01, epochs=2))


def test_front_members_are_the_runs_no_finished_run_dominates() -> None:
    runs = [Run(0, "a", 0.0, (0.80,), True), Run(1, "b", 1.0, (0.90,), True),
            Run(2, "c", 2.0, (0.90,), True), Run(3, "d", 3.0, (0.95,), False),
            Run(4, "e", 1.0, (0.85,), True), Run(5, "f", 1.0, (0.90,), True)]  # fmt: skip
    # c: as accurate as the cheaper b; e: below b at the same cost; d: not finished.
    assert [r.key for r in front_members(runs)] == [0, 1, 5]


def test_seed_spread_is_the_prior_until_three_pairs_exist() -> None:
    runs = [Run(0, "a", 0.0, (0.5, 0.8), True), Run(1, "a", 0.0, (0.6, 0.9), True)]
    assert seed_spread(runs, None, prior=0.02) == 0.02
    runs += [Run(2, "b", 0.0, (0.5, 0.7), True), Run(3, "b", 0.0, (0.5, 0.7), True),
             Run(4, "b", 0.0, (0.5, 0.72), True)]  # fmt: skip
    # pairs of final accuracies: a 0.1; b 0.0, 0.02, 0.02 -> median 0.02
    assert seed_spread(runs, None, prior=0.02) == pytest.approx(0.02 / 0.954)


def test_fast_nondominated_sorting_matches_the_definition() -> None:
    rng = random.Random(3)
    for _ in range(50):
        table = [RungEntry(k, rng.choice([0.1, 0.5, 0.9, rng.random()]),
                           rng.choice([0.0, 1.0, rng.random()])) for k in range(rng.randint(1, 25))]  # fmt: skip
        remaining, expected = list(table), []
        while remaining:
            front = [e for e in remaining if not any(dominates(o, e) for o in remaining)]
            expected.append(sorted(e.key for e in front))
            remaining = [e for e in remaining if e not in front]
        assert [sorted(e.key for e in f) for f in nondominated_fronts(table)] == expected


def test_calibrated_is_the_default_and_asha_stays_selectable() -> None:
    def stopping(*words: str) -> str:
        args = build_parser().parse_args(["run", *words])
        return search_config(args, load_space("digits")).stopping

    assert stopping() == "calibrated"
    assert stopping("--stopping", "asha") == "asha"
    assert stopping("--no-pruning") == "none"


def test_the_objective_exempts_a_retry_and_references_under_the_calibrated_rule() -> None:
    space = load_space("digits")
    candidate = next(c for c in space.candidates() if c.id not in
                     {r.id for r in space.reference_candidates()})  # fmt: skip
    objective = SimpleNamespace(config=SearchConfig(space), reference_ids=set())
    trial = optuna.create_study(directions=["maximize", "minimize"]).ask()
    rule = TrialObjective.stopper(objective, trial, candidate, [])  # type: ignore[arg-type]
    assert isinstance(rule, CalibratedStopper) and not rule.exempt
    trial.set_user_attr(attrs.RETRY, 1)
    rule = TrialObjective.stopper(objective, trial, candidate, [])  # type: ignore[arg-type]
    assert isinstance(rule, CalibratedStopper) and rule.exempt
    objective.reference_ids = {candidate.id}
    assert TrialObjective.stopper(objective, trial, candidate, []) is None  # type: ignore[arg-type]
    objective.config = SearchConfig(space, stopping="asha")
    objective.reference_ids = set()
    assert isinstance(TrialObjective.stopper(objective, trial, candidate, []), AshaStopper)  # type: ignore[arg-type]
