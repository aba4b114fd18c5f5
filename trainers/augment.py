"""Training augmentation and the paper's "different views": one independent draw per member.

Works on whole uint8 batches (N x C x H x W) so views cost little next to the forward pass.
Policies: `none`; `crop` (random crop with zero padding of size/8); `crop_flip` (plus horizontal
flip: CIFAR-like data); `paper` (crop, flip, AutoAugment's CIFAR-10 policy, random erasing).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.transforms import v2

from space.recipe import Augmentation


def random_crop(images: Tensor, padding: int, generator: torch.Generator) -> Tensor:
    """Pads with zeros and crops each image at its own random offset (vectorised)."""
    if padding == 0:
        return images
    n, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # n x h x 1
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # n x 1 x w
    return padded.permute(0, 2, 3, 1)[torch.arange(n)[:, None, None], rows, cols].permute(
        0, 3, 1, 2
    )


def random_flip(images: Tensor, generator: torch.Generator) -> Tensor:
    flip = torch.rand(len(images), generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def _paper_extras(images: Tensor, generator: torch.Generator) -> Tensor:
    """AutoAugment (CIFAR-10 policy) and random erasing, per image (they draw from torch's RNG)."""
    auto = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
    erase = v2.RandomErasing(p=0.5, value=0)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.stack([erase(auto(img)) for img in images])


def augment(images: Tensor, policy: Augmentation, generator: torch.Generator) -> Tensor:
    if policy == "none":
        return images
    out = random_crop(images, max(1, images.shape[-1] // 8), generator)
    if policy in ("crop_flip", "paper"):
        out = random_flip(out, generator)
    if policy == "paper":
        out = _paper_extras(out, generator)
    return out


def views(
    images: Tensor, count: int, policy: Augmentation, generator: torch.Generator
) -> list[Tensor]:
    """`count` independently augmented copies of the same images, in the same order."""
    return [augment(images, policy, generator) for _ in range(count)]
