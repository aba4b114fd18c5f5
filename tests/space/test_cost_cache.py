"""The cost cache and the meta counter: equal to fvcore's trace, counted once, shared on disk."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from space import cost, cost_cache
from space.candidate import Candidate
from space.families import FAMILIES, family
from space.member import MemberSpec


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache of this test's own, and nothing remembered in the process."""
    monkeypatch.setenv(cost_cache.ENV, str(tmp_path / "costs"))
    monkeypatch.setattr(cost, "_KNOWN", {})
    return tmp_path / "costs"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_meta_count_equals_fvcore_trace_for_every_family(name: str) -> None:
    depth, width, groups = family(name).smallest
    for stem, px in (("cifar", 8), ("imagenet", 32)):
        spec = MemberSpec(name, depth, width, groups, stem=stem, num_classes=7)
        assert cost.count(spec, px, "meta") == cost.fvcore_count(spec, px), (stem, px)


def test_a_divided_member_counts_the_same_both_ways() -> None:
    candidate = Candidate("resnext", 11, 4, groups=4, networks=2, image_size=24)
    spec = cost.divide(candidate)[0]
    assert spec.divided_by == 2
    assert cost.count(spec, 24, "meta") == cost.fvcore_count(spec, 24)


def test_a_count_is_stored_once_and_read_by_a_later_process(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = MemberSpec("resnet", 8, 4)
    first = cost.member_cost(spec, 16)
    assert len(list(cache.rglob("*.json"))) == 1
    monkeypatch.setattr(cost, "_KNOWN", {})  # a new process: only the disk remembers

    def no_counting(*_: object) -> tuple[float, float]:
        raise AssertionError("counted again")

    monkeypatch.setattr(cost, "count", no_counting)
    assert cost.member_cost(spec, 16) == first


def test_keys_change_with_the_member_the_size_and_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = MemberSpec("resnet", 8, 4)
    keys = {
        cost_cache.key(spec, 16),
        cost_cache.key(spec, 32),
        cost_cache.key(spec.__class__("resnet", 8, 8), 16),
    }
    monkeypatch.setattr(cost_cache, "code_version", lambda: "other torch or cost code")
    keys.add(cost_cache.key(spec, 16))
    assert len(keys) == 4


def test_an_unreadable_entry_is_counted_again(cache: Path) -> None:
    spec = MemberSpec("resnet", 8, 4)
    counted = cost.member_cost(spec, 16)
    (stored,) = cache.rglob("*.json")
    stored.write_text("{not json")
    cost._KNOWN.clear()
    assert cost.member_cost(spec, 16) == counted
    assert cost_cache.read(spec, 16) == (counted.gflops, counted.params_m)


def test_off_keeps_costs_in_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cost_cache.ENV, "off")
    monkeypatch.setattr(cost, "_KNOWN", {})
    assert cost_cache.cache_dir() is None
    cost.member_cost(MemberSpec("resnet", 8, 4), 16)
    assert cost_cache.read(MemberSpec("resnet", 8, 4), 16) is None


def test_an_unwritable_cache_costs_a_recount_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(cost_cache.ENV, str(blocker / "costs"))  # under a file: mkdir fails
    monkeypatch.setattr(cost, "_KNOWN", {})
    assert cost.member_cost(MemberSpec("resnet", 8, 4), 16).gflops > 0


def test_estimate_all_fills_the_cache_in_processes(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cost, "PARALLEL_FROM", 2)
    candidates = [
        Candidate("resnet", 8, w, networks=s, image_size=8) for w in (2, 4) for s in (1, 2)
    ]
    cost.estimate_all(candidates, workers=2)
    assert len(list(cache.rglob("*.json"))) == 4  # one per distinct member
    monkeypatch.setattr(cost, "_KNOWN", {})
    monkeypatch.setattr(cost, "count", lambda *_: (_ for _ in ()).throw(AssertionError("counted")))
    assert [cost.estimate(c).gflops for c in candidates] == [
        cost.Cost(tuple(cost.MemberCost(*cost.fvcore_count(s, 8)) for s in cost.divide(c))).gflops
        for c in candidates
    ]


def _gflops_in_a_pool_worker(candidates: list[Candidate]) -> list[float]:
    cost.estimate_all(candidates, workers=2)
    return [cost.estimate(c).gflops for c in candidates]


def test_estimate_all_in_a_pool_worker_counts_in_that_worker(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a pool's workers are daemonic and may not start processes (the replay benchmark's are)
    monkeypatch.setattr(cost, "PARALLEL_FROM", 2)
    candidates = [Candidate("resnet", 8, w, networks=2, image_size=8) for w in (2, 4)]
    with multiprocessing.get_context("fork").Pool(1) as pool:
        gflops = pool.apply(_gflops_in_a_pool_worker, (candidates,))
    assert gflops == [cost.estimate(c).gflops for c in candidates]
    assert len(list(cache.rglob("*.json"))) == 2
