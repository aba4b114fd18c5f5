"""How much memory this process may still take, and whether a decoded data set fits in it.

`--data-mode auto` holds an image folder in memory when its decoded pixels, times the overhead
the in-memory path is allowed (`OVERHEAD`: the pixels once, plus per-size resized copies and
chunked temporaries), fit in a share of the memory actually available: the smaller of the
machine's `MemAvailable` and what the cgroup (container) limit leaves above the cgroup's usage.
A fixed limit would be wrong both ways: too small on a large node, too large in a small container.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

OVERHEAD = 1.5  # in-memory cost per decoded byte (benchmarks/data_scale.py measures it)
SHARE = 0.5  # of the available memory: the rest is the trainer's, its workers' and the OS's
CGROUP_V2 = Path("/sys/fs/cgroup")
CGROUP_V1 = Path("/sys/fs/cgroup/memory")


@dataclass(frozen=True)
class Available:
    """Bytes this process may still take, and where the figure comes from."""

    bytes: int
    source: str  # "MemAvailable" or "cgroup limit"


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" (no limit) is None


def _mem_available(meminfo: Path) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room(v2: Path, v1: Path) -> int | None:
    """What the container's memory limit leaves above its current usage (None: no limit)."""
    for limit_file, usage_file in (
        (v2 / "memory.max", v2 / "memory.current"),
        (v1 / "memory.limit_in_bytes", v1 / "memory.usage_in_bytes"),
    ):
        limit = _read_int(limit_file)
        if limit is not None and limit < 1 << 60:  # v1 writes "no limit" as a huge number
            return max(0, limit - (_read_int(usage_file) or 0))
    return None


def available(
    meminfo: Path = Path("/proc/meminfo"), v2: Path = CGROUP_V2, v1: Path = CGROUP_V1
) -> Available:
    """The memory this process may still take: the machine's or its container's, the smaller."""
    machine, room = _mem_available(meminfo), _cgroup_room(v2, v1)
    if room is not None and (machine is None or room < machine):
        return Available(room, "cgroup limit")
    return Available(machine if machine is not None else 0, "MemAvailable")


def fits(decoded_bytes: int, free: Available) -> bool:
    return decoded_bytes * OVERHEAD <= free.bytes * SHARE


def describe(decoded_bytes: int, chosen: str, why: str) -> str:
    """One line for the run's start: the mode chosen and the figures it was chosen from."""
    return (
        f"data {'held in memory' if chosen == 'memory' else 'streamed from disk'}: "
        f"{_gb(decoded_bytes)} of decoded pixels; {why}"
    )


def auto_reason(decoded_bytes: int, free: Available) -> str:
    verdict = "fits within" if fits(decoded_bytes, free) else "exceeds"
    return (
        f"--data-mode auto: {OVERHEAD:g}x that {verdict} {SHARE:.0%} of the "
        f"{_gb(free.bytes)} available ({free.source})"
    )


def _gb(count: int) -> str:
    return f"{count / 1e9:.2f} GB" if count >= 1e8 else f"{count / 1e6:.1f} MB"
