from __future__ import annotations

import pytest
import torch

from trainers.data.augment import augment, random_crop, views
from trainers.train.ensemble import Ensemble, aggregate


def test_each_member_gets_a_different_view_of_the_same_images() -> None:
    torch.manual_seed(0)
    images = torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(1)
    a, b, c = views(images, 3, "crop_flip", generator)
    assert a.shape == b.shape == images.shape
    assert not torch.equal(a, b) and not torch.equal(b, c)
    # Same images, same order: each view's pixels come from its own source image.
    for view in (a, b, c):
        for i in (0, 7, 31):
            assert set(view[i].unique().tolist()) <= set(images[i].unique().tolist()) | {0}


def test_random_crop_shifts_each_image_within_the_padding() -> None:
    image = torch.arange(64, dtype=torch.uint8).view(1, 1, 8, 8).repeat(50, 1, 1, 1)
    out = random_crop(image, 1, torch.Generator().manual_seed(0))
    centres = {int(v) for v in out[:, 0, 4, 4]}
    assert len(centres) > 3  # different offsets for different images
    assert centres <= {int(v) for v in image[0, 0, 3:6, 3:6].flatten()}


@pytest.mark.parametrize("policy", ["none", "crop", "crop_flip", "paper"])
def test_every_policy_keeps_shape_and_dtype(policy: str) -> None:
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    out = augment(images, policy, torch.Generator().manual_seed(0))  # type: ignore[arg-type]
    assert out.shape == images.shape and out.dtype == torch.uint8


def test_aggregations_agree_with_their_definitions() -> None:
    torch.manual_seed(0)
    logits = [torch.randn(6, 4) for _ in range(3)]
    probs = torch.stack([z.softmax(-1) for z in logits])
    assert torch.allclose(aggregate(logits, "mean_logits"), torch.stack(logits).mean(0))
    assert torch.allclose(aggregate(logits, "mean_prob").exp(), probs.mean(0), atol=1e-6)
    geometric = aggregate(logits, "geometric")
    assert torch.allclose(geometric.softmax(-1), probs.log().mean(0).softmax(-1), atol=1e-6)
    # The paper: top-1 of the geometric mean equals top-1 of mean logits.
    assert torch.equal(geometric.argmax(-1), aggregate(logits, "mean_logits").argmax(-1))


def test_ensemble_takes_one_batch_or_one_view_per_member() -> None:
    members = [torch.nn.Linear(3, 2) for _ in range(2)]
    ensemble = Ensemble(members)
    x = torch.randn(5, 3)
    assert [z.shape for z in ensemble.member_logits(x)] == [(5, 2), (5, 2)]
    per_member = ensemble.member_logits([x, x * 2])
    assert torch.allclose(per_member[1], members[1](x * 2))
    assert torch.allclose(ensemble(x), (members[0](x) + members[1](x)) / 2)
