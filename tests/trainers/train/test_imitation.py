from __future__ import annotations

import copy
import io

import onnx
import pytest
import torch

from space import Candidate, Recipe
from space.errors import ConfigError
from space.families import FAMILIES, family
from space.member import Architecture
from trainers import build_ensemble, load_data
from trainers.train.imitation import (
    Imitator,
    feature_stages,
    teacher_candidate,
    train_wide_then_narrow,
)

RECIPE = Recipe(epochs=2, batch_size=128, lr=0.05, warmup_epochs=0, js_warmup_epochs=1,
                augmentation="crop")  # fmt: skip
WTN = Recipe(**{**RECIPE.to_dict(), "init": "wide_then_narrow", "imitation_epochs": 1})


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


def tiny(networks: int, recipe: Recipe = WTN) -> Candidate:
    return Candidate("resnet", 8, 4, networks=networks, image_size=8, in_channels=1, recipe=recipe)


def test_scratch_recipes_keep_their_ids_and_bad_inits_are_refused() -> None:
    assert "init" not in tiny(2, RECIPE).recipe.to_dict()
    assert tiny(2, RECIPE).id != tiny(2).id
    assert Candidate.from_dict(tiny(2).to_dict()) == tiny(2)
    with pytest.raises(ConfigError, match="imitation_epochs"):
        Recipe(epochs=2, init="wide_then_narrow", imitation_epochs=2)
    with pytest.raises(ConfigError, match="init"):
        Recipe(init="from_the_moon")
    arch = [Architecture("resnet", 8, 2), Architecture("resnet", 8, 4)]
    with pytest.raises(ConfigError, match="heterogeneous"):
        tiny(1).with_members(arch)


def test_teacher_is_the_undivided_network_or_the_wider_one() -> None:
    assert teacher_candidate(tiny(4)) == tiny(1, RECIPE)
    assert teacher_candidate(tiny(1)) == tiny(1, RECIPE).replace(width=8)


@pytest.mark.parametrize("name", FAMILIES.keys())
def test_every_family_splits_into_resolution_stages(name: str) -> None:
    depth, width, groups = family(name).smallest
    c = Candidate(name, depth, width, groups=groups, image_size=16, in_channels=1)
    member = build_ensemble(c, 0).members[0]
    stages = feature_stages(member, name, torch.rand(2, 1, 16, 16))  # checked against forward
    assert len(stages) >= 3


def test_imitation_fits_the_teacher_and_leaves_lower_stages_alone() -> None:
    c = tiny(2)
    ensemble, teacher = build_ensemble(c, 0), build_ensemble(teacher_candidate(c), 1).members[0]
    imitator = Imitator(c, ensemble, teacher)
    x = [torch.rand(8, 1, 8, 8), torch.rand(8, 1, 8, 8)]
    lower = [p.clone() for p in imitator.members[0][0].parameters()]
    optimizer = torch.optim.Adam(imitator.trainable(1).parameters(), lr=0.01)
    first = float(imitator.loss(1, x).detach())
    for _ in range(25):
        optimizer.zero_grad()
        imitator.loss(1, x).backward()
        optimizer.step()
    assert float(imitator.loss(1, x).detach()) < 0.5 * first
    assert all(
        torch.equal(a, b) for a, b in zip(lower, imitator.members[0][0].parameters(), strict=True)
    )


def onnx_signature(model: torch.nn.Module) -> list[tuple[str, ...]]:
    """Graph ops and weight shapes; random weights first, so that the exporter's deduplication
    of equal initialisers (fresh batch norms) does not depend on training."""
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5)
    buffer = io.BytesIO()
    torch.onnx.export(model, torch.rand(1, 1, 8, 8), buffer, dynamo=False)
    graph = onnx.load_from_string(buffer.getvalue()).graph
    weights = sorted((i.name, *map(str, i.dims)) for i in graph.initializer)
    return [tuple(n.op_type for n in graph.node), *weights]


def test_warm_members_have_the_scratch_architecture_and_all_epochs(digits) -> None:
    c = tiny(2)
    teacher = build_ensemble(teacher_candidate(c), 1).members[0]
    seen, stopped = [], []
    result, imitation = train_wide_then_narrow(
        c, digits, teacher, seed=0, observers=[seen.append], callbacks=[stopped.append]
    )
    scratch = build_ensemble(tiny(2, RECIPE), 0)  # the twin's architecture: training keeps it
    assert [r.epoch for r in seen] == [1, 2] and [r.epoch for r in stopped] == [2]
    assert [r.epoch for r in result.history] == [1, 2] and result.val.accuracy > 0.1
    assert len(imitation.stage_losses) == 3 and all(0 < v < 10 for v in imitation.stage_losses)
    count = [sum(p.numel() for p in e.parameters()) for e in (result.ensemble, scratch)]
    assert count[0] == count[1]
    assert onnx_signature(result.ensemble) == onnx_signature(scratch)
