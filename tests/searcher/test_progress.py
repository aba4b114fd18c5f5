"""What a search prints: the line a trained trial ends with, and the end of the run."""

from __future__ import annotations

from searcher.run.progress import Progress
from searcher.run.summary import SearchSummary
from searcher.run.trial_run import TrialOutcome
from searcher.study import attrs
from searcher.study.records import TrialRecord
from space import Candidate


def trained(**latency: str) -> TrialOutcome:
    stored = {attrs.ACCURACY: 0.9, attrs.MEMBER_ACCURACIES: [0.85, 0.86], attrs.LATENCY_MS: 1.25,
              attrs.TRAIN_SECONDS: 3.0, **latency}  # fmt: skip
    return TrialOutcome(Candidate("resnet", 8, 4, networks=2), "trained", stored)


def test_the_trial_line_names_the_mode_and_a_channels_last_layout() -> None:
    lines: list[str] = []
    progress = Progress(lines.append, "gflops")
    progress.trial_end(1, trained(latency_mode="fused", latency_layout="channels_last"))
    progress.trial_end(2, trained(latency_mode="concurrent", latency_layout="contiguous"))
    progress.trial_end(3, trained())  # a trial stored before modes were recorded
    assert "latency 1.25 ms (fused, channels-last), trained in 3.0 s" in lines[0]
    assert "latency 1.25 ms (concurrent), trained in" in lines[1]
    assert "latency 1.25 ms, trained in" in lines[2]


def test_the_final_table_ends_with_the_next_command() -> None:
    lines: list[str] = []
    record = TrialRecord(0, "COMPLETE", "trained", {attrs.ACCURACY: 0.9, attrs.GFLOPS: 1.0,
                                                    attrs.PARAMS_M: 1.0, attrs.SEED: 0})  # fmt: skip
    Progress(lines.append, "gflops").finish(SearchSummary("s", "sqlite://"), [record])
    assert lines[-1].startswith("next: `searcher export --best --out deploy/`")
    lines.clear()
    Progress(lines.append, "gflops").finish(SearchSummary("s", "sqlite://"), [])
    assert not any(line.startswith("next:") for line in lines)  # nothing to export yet
