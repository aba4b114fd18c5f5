"""Training augmentation and the paper's "different views": one independent draw per member.

Works on whole uint8 batches (N x C x H x W) so views cost little next to the forward pass.
Policies: `none`; `crop` (random crop with zero padding of size/8); `crop_flip` (plus horizontal
flip: CIFAR-like data); `paper` (crop, flip, AutoAugment's CIFAR-10 policy, random erasing).

Crops and flips run batched on whatever device the images are on (the random draws always come
from the CPU generator, so a GPU batch gets the same crops and flips as the same batch on the
CPU). `paper`'s AutoAugment and erasing run per image on the host: the in-memory trainer keeps
that policy on the host path, and the streaming loader runs it in its worker processes.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.transforms import v2

from space.recipe import Augmentation


def random_crop(images: Tensor, padding: int, generator: torch.Generator) -> Tensor:
    """Pads with zeros and crops each image at its own random offset (one gather per batch)."""
    if padding == 0:
        return images
    n, c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    rows = dy[:, None] + torch.arange(h)  # n x h
    cols = dx[:, None] + torch.arange(w)  # n x w
    flat = (rows[:, :, None] * (w + 2 * padding) + cols[:, None, :]).view(n, 1, h * w)
    flat = flat.to(images.device).expand(n, c, h * w)
    return padded.flatten(2).gather(2, flat).view(n, c, h, w)


def random_flip(images: Tensor, generator: torch.Generator) -> Tensor:
    flip = (torch.rand(len(images), generator=generator) < 0.5).to(images.device)
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
