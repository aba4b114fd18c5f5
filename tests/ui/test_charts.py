"""Large studies stay legible: thinning keeps the points that matter; the members chart shows
the small gaps between members and the ensemble."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ui.charts import frontier_chart, members_axis, members_chart
from ui.data import base_label
from ui.thinning import MAX_POINTS, thin


def big_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    gflops = 10 ** rng.uniform(-3, 1, n)
    return pd.DataFrame({
        "trial": np.arange(n), "gflops": gflops, "reference": np.arange(n) < 3,
        "accuracy": 0.7 + 0.05 * np.log10(gflops) + rng.normal(0, 0.03, n),
        "S": rng.choice([1, 2, 4], n), "family": "resnet", "label": "x",
    })  # fmt: skip


def test_a_small_study_is_drawn_whole() -> None:
    frame = big_frame(100)
    drawn = thin(frame, "gflops", keep={5}, log_cost=True)
    assert drawn.note == "" and len(drawn.frame) == 100


def test_a_large_study_keeps_front_references_and_selection_and_says_so() -> None:
    frame = big_frame(20_000)
    keep = {17, 4242, 19_999}
    drawn = thin(frame, "gflops", keep=keep, log_cost=True)
    numbers = set(drawn.frame["trial"])
    assert keep | {0, 1, 2} <= numbers
    assert len(drawn.frame) <= MAX_POINTS
    assert drawn.frame["represents"].sum() == len(frame)  # every trial is stood for once
    assert drawn.frame["accuracy"].max() == frame["accuracy"].max()  # the upper edge stays
    assert "20,000 trials" in drawn.note and "thinned" in drawn.note
    spec = frontier_chart(drawn.frame, drawn.frame.head(3), "gflops", "GFLOPs", None,
                          drawn.frame.head(0), drawn.note).to_dict()  # fmt: skip
    assert "20,000 trials" in " ".join(spec["title"]["text"])


def test_members_axis_starts_near_the_weakest_member_and_labels_the_bars() -> None:
    members, ensemble = [0.912, 0.905], 0.921
    low, high = members_axis([*members, ensemble])
    assert 0.85 < low < 0.905 and 0.921 < high <= 1.0
    spec = members_chart(members, ensemble).to_dict()
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks == ["bar", "text"]
    assert spec["layer"][0]["encoding"]["y"]["scale"]["domain"] == [low, high]


def test_base_label_drops_only_the_network_count() -> None:
    assert base_label("ResNet-8 w16 S=4 @16px") == "ResNet-8 w16 @16px"
    assert base_label("ResNeXt-29 8x64d S=2 @32px") == "ResNeXt-29 8x64d @32px"
