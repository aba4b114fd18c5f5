"""How far a running trial is, in words: its stored `progress` (searcher/run/step_progress.py)
as `searcher frontier --all` and the dashboard show it."""

from __future__ import annotations

from typing import Any


def duration(seconds: float) -> str:
    """`45 s`, `12m05s`, `3h07m`: ETAs read at a glance."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_text(progress: dict[str, Any] | None, now: float | None) -> str:
    """`epoch 3/120 41%, 812 img/s, trial ETA 2h31m (12 s ago)`; empty without figures; no age
    without `now`."""
    if not progress or "epoch" not in progress:
        return ""
    parts = [f"epoch {progress['epoch']}/{progress.get('epochs', '?')} "
             f"{100 * progress.get('fraction', 0.0):.0f}%"]  # fmt: skip
    if progress.get("images_per_s") is not None:
        parts.append(f"{progress['images_per_s']:.0f} img/s")
    if progress.get("trial_eta_s") is not None:
        parts.append(f"trial ETA {duration(progress['trial_eta_s'])}")
    known = now is not None and "updated" in progress
    age = f" ({duration(now - progress['updated'])} ago)" if known else ""
    return ", ".join(parts) + age
