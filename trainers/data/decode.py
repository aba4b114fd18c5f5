"""Decoding one image file to a square uint8 array: the one place both data paths read pixels.

The shorter side is resized to `side` (bilinear, antialiased by PIL) and the centre cropped.
JPEGs are decoded at a reduced DCT scale first when that still leaves >= `side` pixels, which
makes streaming large photos to small candidates cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from trainers.data.index import UNREADABLE


def square(img: Image.Image, side: int, mode: str) -> np.ndarray:
    """`img` as side x side x C uint8 (C = 1 for mode L, 3 for RGB)."""
    img = img.convert("RGBA").convert(mode) if img.mode in ("P", "LA") else img.convert(mode)
    scale = side / min(img.size)
    w, h = max(side, round(img.width * scale)), max(side, round(img.height * scale))
    img = img.resize((w, h), Image.Resampling.BILINEAR)
    left, top = (w - side) // 2, (h - side) // 2
    array = np.array(img.crop((left, top, left + side, top + side)), dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def decode(path: Path, side: int, mode: str) -> np.ndarray | None:
    """The image at `path` as side x side x C uint8, or None when it cannot be decoded."""
    try:
        with Image.open(path) as img:
            if img.format == "JPEG":
                img.draft(img.mode, (side, side))
            img.load()
            return square(img, side, mode)
    except UNREADABLE:
        return None
