"""The frontier table's latency cell: flagged only when the number shown was itself unsettled."""

from __future__ import annotations

from searcher.study import attrs
from searcher.study.tables import latency_shown


def stored(concurrent_stable: bool, fused_stable: bool) -> dict:
    rows = [
        {"mode": "concurrent", "batch": 1, "median_ms": 0.8, "p90_ms": 1.4, "stable": concurrent_stable},
        {"mode": "fused", "batch": 1, "median_ms": 0.5, "p90_ms": 0.6, "stable": fused_stable},
        {"mode": "sequential", "batch": 64, "median_ms": 9.0, "p90_ms": 9.9, "stable": False},
    ]  # fmt: skip
    unstable = [f"{r['mode']}@{r['batch']}" for r in rows if not r["stable"]]
    return {attrs.LATENCY: {"device": "cpu", "rows": rows}, attrs.LATENCY_MS: 0.5,
            attrs.LATENCY_MODE: "fused", attrs.LATENCY_UNSTABLE: unstable}  # fmt: skip


def test_only_the_row_behind_the_shown_latency_decides_the_flag() -> None:
    assert latency_shown(stored(concurrent_stable=False, fused_stable=True)) == "0.5"
    assert latency_shown(stored(concurrent_stable=True, fused_stable=False)) == "0.5 (unstable)"


def test_a_trial_stored_without_row_flags_falls_back_to_its_unstable_list() -> None:
    old = {attrs.LATENCY_MS: 0.5, attrs.LATENCY_MODE: "fused", attrs.LATENCY_UNSTABLE: ["x@1"]}
    assert latency_shown(old) == "0.5 (unstable)"
    assert latency_shown({attrs.LATENCY_MS: 0.5, attrs.LATENCY_UNSTABLE: []}) == "0.5"
