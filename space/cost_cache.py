"""The on-disk cache of member costs: counted once per machine, read by every later process.

A member's cost depends only on its spec, the image size and the code that counts it, so the key
is a hash of those: the spec's fields, the image size, the torch and fvcore versions and the
source of divco's cost code (`space/families/`, the counters). Changing any of them gives new
keys, never a stale number. One small JSON file per key, written to a temporary name and renamed
into place, so several processes (`space show`, workers of one study) fill it together safely.

Where: `$DIVCO_COST_CACHE`, else `$XDG_CACHE_HOME/divco/costs` (`~/.cache/divco/costs`);
`DIVCO_COST_CACHE=off` keeps costs in the process only.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

from space.member import MemberSpec

ENV = "DIVCO_COST_CACHE"
OFF = ("off", "none", "0", "")
SPACE_DIR = Path(__file__).resolve().parent
COST_SOURCES = ("cost.py", "flop_count.py", "member.py", "families/*.py")
FORMAT = 1  # bump when the stored fields change meaning


def cache_dir() -> Path | None:
    """Where costs are stored, None when the cache is off."""
    configured = os.environ.get(ENV)
    if configured is not None:
        return None if configured.strip().lower() in OFF else Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "divco" / "costs"


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Library versions and a hash of the cost code's source: what a count depends on besides
    the member (read from metadata and files, so computing it imports neither torch nor fvcore)."""
    digest = hashlib.sha256(f"format {FORMAT}".encode())
    for package in ("torch", "fvcore"):
        try:
            digest.update(f"{package} {metadata.version(package)};".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package} missing;".encode())
    for pattern in COST_SOURCES:
        for path in sorted(SPACE_DIR.glob(pattern)):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def key(spec: MemberSpec, image_size: int) -> str:
    fields = spec.to_dict() | {"image_size": image_size, "code": code_version()}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]


def _path(directory: Path, name: str) -> Path:
    return directory / name[:2] / f"{name}.json"


def read(spec: MemberSpec, image_size: int) -> tuple[float, float] | None:
    """(gflops, params_m) when stored; None when absent, off or unreadable (it is recounted)."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        stored = json.loads(_path(directory, key(spec, image_size)).read_text())
        return float(stored["gflops"]), float(stored["params_m"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(spec: MemberSpec, image_size: int, gflops: float, params_m: float) -> None:
    """Stores one count atomically; a cache that cannot be written costs a recount, no error."""
    directory = cache_dir()
    if directory is None:
        return
    path = _path(directory, key(spec, image_size))
    record = {"gflops": gflops, "params_m": params_m, "spec": spec.to_dict(),
              "image_size": image_size, "code": code_version()}  # fmt: skip
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(record, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
