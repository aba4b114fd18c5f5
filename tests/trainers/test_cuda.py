"""The GPU paths, where CUDA exists (skipped elsewhere, with the reason): in-memory views made on
the device, channels-last + bf16 + compile, streamed batches through pinned memory, and a trial
over NCCL ranks (two or more GPUs)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from space import Candidate, Recipe
from trainers import load_data, train
from trainers.data.feed import MemoryFeed
from trainers.data.source import DataSource

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
RECIPE = Recipe(epochs=2, batch_size=64, lr=0.1, warmup_epochs=0, js_warmup_epochs=0,
                augmentation="crop_flip")  # fmt: skip


@pytest.fixture(autouse=True)
def no_compile_workers_left():
    """torch.compile starts Inductor's pool of compile processes, which lives as long as this
    process; the suite's check for stray processes would kill and report them."""
    yield
    from torch._inductor.async_compile import shutdown_compile_workers

    shutdown_compile_workers()


@pytest.fixture(scope="module")
def digits() -> DataSource:
    return load_data("digits")


def candidate(networks: int = 2, **recipe: object) -> Candidate:
    return Candidate("resnet", 8, 8, networks=networks, image_size=8, in_channels=1,
                     recipe=Recipe(**{**RECIPE.to_dict(), **recipe}))  # fmt: skip


def test_in_memory_views_are_made_on_the_device(digits: DataSource) -> None:
    """crop_flip keeps the uint8 set on the GPU: every view and target of a step is born there,
    and the S views of one step differ (each member its own augmentation)."""
    feed = MemoryFeed(digits, candidate(4), torch.Generator().manual_seed(0), torch.device("cuda"))
    assert feed.placement == "device" and feed.images.device.type == "cuda"
    batch = next(iter(feed.epoch()))
    assert all(x.device.type == "cuda" and x.shape == (64, 1, 8, 8) for x in batch.inputs)
    assert all(torch.equal(t, batch.targets[0]) for t in batch.targets)  # cotrain: same images
    assert not torch.equal(batch.inputs[0], batch.inputs[1])
    host = MemoryFeed(digits, candidate(4, augmentation="paper"), torch.Generator(),
                      torch.device("cuda"))  # fmt: skip
    assert host.placement == "host" and host.images.device.type == "cpu"


def test_a_gpu_run_learns_digits(digits: DataSource) -> None:
    result = train(candidate(2, epochs=3), digits, seed=0, device="cuda")
    assert all(math.isfinite(r.train_loss) for r in result.history)
    assert result.val.accuracy > 0.5  # chance is 0.1


@pytest.mark.parametrize("options", [
    {"memory_format": "channels_last"},
    {"precision": "bf16", "memory_format": "channels_last"},
    {"compile": "default"},
])  # fmt: skip
def test_execution_options_train_on_the_gpu(digits: DataSource, options: dict) -> None:
    """Each option trains to a finite loss and a model that beats chance; compile either works
    or falls back to eager (never a failed run)."""
    result = train(candidate(2, **options), digits, seed=0, device="cuda")
    assert all(math.isfinite(r.train_loss) for r in result.history)
    assert result.val.accuracy > 0.3


def test_streamed_batches_reach_the_gpu(tmp_path: Path) -> None:
    from tests.trainers.data.test_streaming import candidate as stream_candidate
    from tests.trainers.data.test_streaming import make_folder

    root = make_folder(tmp_path / "d", per_class=16)
    data = load_data("imagefolder", root, val_fraction=0.25, mode="stream", workers=2,
                     cache_dir=tmp_path / "runs")  # fmt: skip
    result = train(stream_candidate(2, epochs=2), data, seed=0, device="cuda")
    assert len(result.history) == 2 and result.val.count == len(data.val)
    assert all(math.isfinite(r.train_loss) for r in result.history)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="NCCL ranks need two CUDA devices")
def test_two_nccl_ranks_train_the_members_of_one_process(digits: DataSource) -> None:
    from trainers.train.distributed import train_data_parallel

    small = DataSource("digits", digits.train.subset(torch.arange(3 * 64)),
                       digits.val.subset(torch.arange(64)), None, digits.class_names)  # fmt: skip
    alone = train(candidate(epochs=1), small, seed=5, device="cuda:0")
    pair = train_data_parallel(candidate(epochs=1), small, devices=["cuda:0", "cuda:1"], seed=5)
    expected, got = alone.ensemble.state_dict(), pair.ensemble.state_dict()
    for name, tensor in expected.items():
        torch.testing.assert_close(got[name], tensor, atol=1e-4, rtol=1e-3, msg=name)
