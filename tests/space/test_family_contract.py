"""What every registered family must do, checked at each family's own `smallest` size: build for
1 and 3 input channels, 10 and 100 classes, 8 to 224 px with either stem, and train one step."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from space import FAMILIES, Candidate, divide
from space.families.base import family

# (input channels, classes, image size, stem): the corners of what a search may ask for; odd
# sizes exercise ceil-mode pooling. A training step at each of these, and a forward pass at
# 224 px with the ImageNet stem (the CIFAR stem at 224 px costs some families' smallest networks
# several GFLOPs, and is the same network as at 8 px).
SHAPES = [(1, 10, 8, "cifar"), (3, 100, 17, "cifar"), (1, 100, 9, "imagenet")]


def smallest(name: str, **fields: object) -> Candidate:
    depth, width, groups = family(name).smallest
    return Candidate(name, depth, width, groups=groups, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", FAMILIES.keys())
def test_family_trains_one_step_at_every_input_shape(name: str) -> None:
    for channels, classes, size, stem in SHAPES:
        torch.manual_seed(0)
        candidate = smallest(
            name, networks=2, image_size=size, stem=stem, in_channels=channels, num_classes=classes
        )
        member = family(name).build(divide(candidate)[0])
        images = torch.randn(2, channels, size, size)
        optimizer = torch.optim.SGD(member.parameters(), lr=0.1)
        before = [p.detach().clone() for p in member.parameters()]
        loss = F.cross_entropy(member.train()(images), torch.tensor([0, classes - 1]))
        loss.backward()
        optimizer.step()
        assert torch.isfinite(loss), (name, size, stem)
        assert all(torch.isfinite(p.grad).all() for p in member.parameters() if p.grad is not None)
        assert any(not torch.equal(b, p) for b, p in zip(before, member.parameters(), strict=True))
        with torch.no_grad():
            out = member.eval()(images)
        assert out.shape == (2, classes) and torch.isfinite(out).all(), (name, size, stem)


@pytest.mark.parametrize("name", FAMILIES.keys())
def test_family_runs_at_224_px_with_the_imagenet_stem(name: str) -> None:
    candidate = smallest(name, networks=4, image_size=224, stem="imagenet", num_classes=100)
    member = family(name).build(divide(candidate)[0])
    with torch.no_grad():
        out = member.eval()(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 100) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", FAMILIES.keys())
def test_division_never_widens_a_member_and_is_the_identity_at_s_1(name: str) -> None:
    arch = family(name)
    depth, width, groups = arch.smallest
    scale = 4 if groups > 1 else 1  # families without groups allow only 1
    for w, g in [(width, groups), (4 * width, scale * groups), (64, scale * groups)]:
        assert arch.divide(w, g, 1) == (w, g)
        for networks in (2, 4):
            w_i, g_i = arch.divide(w, g, networks)
            assert 1 <= w_i <= w and 1 <= g_i <= g
            arch.check(name, depth, w_i, g_i)  # a member is itself a valid network of the family
