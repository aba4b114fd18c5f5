"""A line chart as PNG with Pillow only (torchvision's dependency): no plotting library needed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = ["#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
W, H, LEFT, RIGHT, TOP, BOTTOM = 900, 560, 70, 200, 55, 60


def draw_curves(
    path: Path,
    xs: Sequence[float],
    series: dict[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    title: str,
    x_label: str,
    y_label: str,
) -> None:
    """series: name -> (median, 25th, 75th percentile) at each x; the band is drawn lightly."""
    image = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(image, "RGBA")
    x_max = max(xs) or 1.0
    lows = [v for _, low, _ in series.values() for v in low]
    y_min = min(0.0, *lows) if lows else 0.0

    def at(x: float, y: float) -> tuple[float, float]:
        return (LEFT + (W - LEFT - RIGHT) * x / x_max,
                H - BOTTOM - (H - TOP - BOTTOM) * (y - y_min) / (1.0 - y_min))  # fmt: skip

    for tick in range(6):  # axes and grid
        y = y_min + (1.0 - y_min) * tick / 5
        draw.line([at(0, y), at(x_max, y)], fill="#dddddd")
        draw.text((8, at(0, y)[1] - 6), f"{y:.2f}", fill="black")
        x = x_max * tick / 5
        draw.text((at(x, y_min)[0] - 10, H - BOTTOM + 8), f"{x:.0f}", fill="black")
    draw.line([at(0, y_min), at(x_max, y_min)], fill="black")
    draw.line([at(0, y_min), at(0, 1.0)], fill="black")
    for i, (name, (median, low, high)) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        rgb = tuple(int(colour[k : k + 2], 16) for k in (1, 3, 5))
        band = [at(x, y) for x, y in zip(xs, high, strict=True)]
        band += [at(x, y) for x, y in reversed(list(zip(xs, low, strict=True)))]
        draw.polygon(band, fill=(*rgb, 40))
        draw.line([at(x, y) for x, y in zip(xs, median, strict=True)], fill=colour, width=3)
        draw.line([(W - RIGHT + 15, TOP + 20 * i + 7), (W - RIGHT + 40, TOP + 20 * i + 7)],
                  fill=colour, width=3)  # fmt: skip
        draw.text((W - RIGHT + 45, TOP + 20 * i), name, fill="black")
    draw.text((LEFT, 8), title, fill="black")
    draw.text(((W - RIGHT) // 2, H - 25), x_label, fill="black")
    draw.text((8, 30), y_label, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
