"""A trial on two CPU processes (gloo) trains the same members as one process on the same
global batch; a failing rank fails the run cleanly and leaves no process behind."""

from __future__ import annotations

import multiprocessing

import pytest
import torch
import torch.distributed as dist

from space import Candidate, Recipe
from space.errors import ConfigError
from trainers import StopTraining, load_data, train
from trainers.data.source import DataSource
from trainers.train.distributed import train_data_parallel
from trainers.train.group_norm import GroupBatchNorm, swap_norms

RECIPE = Recipe(epochs=2, batch_size=32, lr=0.1, warmup_epochs=0, js_warmup_epochs=0,
                augmentation="crop_flip")  # fmt: skip
STEPS = 3


@pytest.fixture(scope="module")
def small() -> DataSource:
    """Digits cut to three steps of training and a small validation split."""
    full = load_data("digits")
    train_part = full.train.subset(torch.arange(STEPS * RECIPE.batch_size))
    return DataSource("digits", train_part, full.val.subset(torch.arange(64)), None,
                      full.class_names)  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def one_thread_per_rank():
    """Ranks take this process's thread count: one each, or two ranks fight over a small
    machine's cores. Spawning them also starts multiprocessing's resource tracker here, which
    would outlive the session's check for stray processes (tests/conftest.py): stopped after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    from multiprocessing import resource_tracker

    resource_tracker._resource_tracker._stop()


def candidate(**recipe: object) -> Candidate:
    """Two ResNet members with BatchNorm: the shard statistics must be the global batch's."""
    return Candidate("resnet", 8, 4, networks=2, image_size=8, in_channels=1,
                     recipe=Recipe(**{**RECIPE.to_dict(), **recipe}))  # fmt: skip


def stop_after_first_epoch(report) -> None:
    if report.epoch == 1:
        raise StopTraining


def assert_no_rank_alive() -> None:
    assert multiprocessing.active_children() == []
    assert not dist.is_initialized()


@pytest.mark.slow
def test_two_gloo_processes_train_the_members_of_one_process(small: DataSource) -> None:
    """Same seed, same global batch: every weight and BatchNorm statistic agrees after the
    epoch's steps, and a callback's StopTraining on rank 0 ends every rank's loop. A few steps
    only: sums taken in another order differ in the last bit, and once a ReLU input within that
    of zero takes the other side, the two runs drift apart as any two float orders do."""
    alone = train(candidate(), small, seed=5, callbacks=[stop_after_first_epoch])
    pair = train_data_parallel(candidate(), small, devices=["cpu", "cpu"], seed=5,
                               callbacks=[stop_after_first_epoch])  # fmt: skip
    assert_no_rank_alive()
    assert pair.stopped_by == alone.stopped_by == "callback" and len(pair.history) == 1
    expected, got = alone.ensemble.state_dict(), pair.ensemble.state_dict()
    assert got.keys() == expected.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(got[name], tensor, atol=1e-5, rtol=1e-4, msg=name)
    assert not torch.equal(expected["members.0.stem.1.running_mean"], torch.zeros(4))
    assert all(type(m) is not GroupBatchNorm for m in pair.ensemble.modules())
    assert pair.history[0].train_loss == pytest.approx(alone.history[0].train_loss, rel=1e-5)
    assert pair.val.accuracy == alone.val.accuracy


class FailsOnRankOne(DataSource):
    """Raises in rank 1's third training batch (the feed normalises the validation split once,
    then every member's view of every batch)."""

    calls = 0

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        if dist.is_initialized() and dist.get_rank() == 1:
            FailsOnRankOne.calls += 1
            if FailsOnRankOne.calls > 5:
                raise ValueError("injected failure")
        return super().normalise(images)


@pytest.mark.slow
def test_a_failing_rank_fails_the_run_and_leaves_no_process(small: DataSource) -> None:
    data = FailsOnRankOne(small.name, small.train, small.val, None, small.class_names)
    with pytest.raises(RuntimeError, match=r"rank 1 of 2 raised ValueError: injected failure"):
        train_data_parallel(candidate(), data, devices=["cpu", "cpu"], seed=0)
    assert_no_rank_alive()


@pytest.mark.slow
def test_rank_zero_failing_stops_the_other_ranks(small: DataSource) -> None:
    def broken(report) -> None:
        raise KeyError("callback bug")

    with pytest.raises(KeyError, match="callback bug"):
        train_data_parallel(candidate(), small, devices=["cpu", "cpu"], callbacks=[broken])
    assert_no_rank_alive()


def test_a_batch_that_does_not_split_evenly_is_a_config_error(small: DataSource) -> None:
    with pytest.raises(ConfigError, match="batch size 33 does not split evenly over 2"):
        train_data_parallel(candidate(batch_size=33), small, devices=["cpu", "cpu"])
    assert_no_rank_alive()


def test_swapped_norms_share_the_tensors_and_swap_back_exactly() -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3))
    weight, running = model[1].weight, model[1].running_var
    swap_norms(model, GroupBatchNorm)
    assert type(model[1]) is GroupBatchNorm and model[1].weight is weight
    swap_norms(model, torch.nn.BatchNorm2d)
    assert type(model[1]) is torch.nn.BatchNorm2d and model[1].running_var is running
