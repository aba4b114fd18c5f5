"""The index of an image folder: paths, labels, sizes and grey flags, scanned once and cached.

Scanning opens each file's header only (PIL reads sizes without decoding), so indexing a large
folder costs a directory walk, not a decode; files PIL cannot identify are skipped and counted.
The cache is an `.npz` file in `cache_dir` (the runs directory), keyed by the folder's path and
classes and rebuilt when any directory under the classes changed (its mtime) or it is unreadable.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)
GREY_MODES = ("L", "1", "I;16", "I")
FORMAT = 1  # bump when the cached arrays change meaning
SCAN_THREADS = 8
UNREADABLE = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    Image.DecompressionBombError,
)


@dataclass(frozen=True, eq=False)
class FolderIndex:
    """One row per readable image: its path (relative, bytes), label, width x height, grey flag."""

    root: Path
    classes: tuple[str, ...]
    paths: np.ndarray
    labels: np.ndarray
    sizes: np.ndarray
    grey: np.ndarray
    skipped: int

    def __len__(self) -> int:
        return len(self.labels)

    def path(self, row: int) -> Path:
        return self.root / os.fsdecode(bytes(self.paths[row]))

    @property
    def median_side(self) -> int:
        return int(np.median(self.sizes.min(axis=1))) if len(self) else 0


def _walk(root: Path, classes: tuple[str, ...]) -> tuple[list[list[str]], str]:
    """Every file under each class folder (sorted) and a fingerprint of the directories' mtimes."""
    digest = hashlib.sha256(repr(classes).encode())
    files: list[list[str]] = []
    for name in classes:
        found: list[str] = []
        for folder, dirs, names in os.walk(root / name):
            dirs.sort()
            rel = os.path.relpath(folder, root)
            digest.update(f"{rel}:{os.stat(folder).st_mtime_ns};".encode())
            found.extend(os.path.join(rel, n) for n in names if not n.startswith("."))
        files.append(sorted(found))
    return files, digest.hexdigest()


def _header(path: Path) -> tuple[int, int, bool] | None:
    """Width, height and grey flag from the file's header, None when PIL cannot identify it."""
    try:
        with Image.open(path) as img:
            return img.size[0], img.size[1], img.mode in GREY_MODES
    except UNREADABLE:
        return None


def scan(root: Path, classes: tuple[str, ...], files: list[list[str]]) -> FolderIndex:
    """Reads every header, in threads: on network file systems the time is waiting, not work."""
    paths, labels, sizes, grey, skipped = [], [], [], [], 0
    with ThreadPoolExecutor(SCAN_THREADS) as pool:
        for label, names in enumerate(files):
            for rel, header in zip(
                names, pool.map(_header, [root / n for n in names]), strict=True
            ):
                if header is None:
                    skipped += 1
                    continue
                paths.append(os.fsencode(rel))
                labels.append(label)
                sizes.append(header[:2])
                grey.append(header[2])
    return FolderIndex(
        root, classes, np.array(paths, dtype=np.bytes_), np.array(labels, dtype=np.int64),
        np.array(sizes, dtype=np.int32).reshape(-1, 2), np.array(grey, dtype=bool), skipped,
    )  # fmt: skip


def cache_path(cache_dir: Path, root: Path, classes: tuple[str, ...]) -> Path:
    key = hashlib.sha256(f"{root.resolve()}\n{classes}".encode()).hexdigest()[:16]
    return cache_dir / f"index-{key}.npz"


def _read_cache(path: Path, root: Path, classes: tuple[str, ...], fingerprint: str):
    """The cached index, None when stale; raises ValueError when the file is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = [str(x) for x in npz["meta"]]
            arrays = {k: npz[k] for k in ("paths", "labels", "sizes", "grey", "skipped")}
    except (OSError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
    if meta != [str(FORMAT), fingerprint]:
        return None
    n = len(arrays["labels"])
    if any(len(arrays[k]) != n for k in ("paths", "sizes", "grey")):
        raise ValueError("arrays of different lengths")
    skipped = int(arrays.pop("skipped"))
    return FolderIndex(root, classes, skipped=skipped, **arrays)


def _write_cache(path: Path, index: FolderIndex, fingerprint: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
    try:
        np.savez(
            tmp, meta=np.array([str(FORMAT), fingerprint]), paths=index.paths, labels=index.labels,
            sizes=index.sizes, grey=index.grey, skipped=np.array(index.skipped),
        )  # fmt: skip
        os.replace(tmp, path)
    except BaseException:  # a full disk leaves no half-written file behind, the old cache intact
        tmp.unlink(missing_ok=True)
        raise


def load_index(root: Path, classes: tuple[str, ...], cache_dir: Path | None) -> FolderIndex:
    """The folder's index, from the cache when it is current; scanned (and cached) otherwise."""
    files, fingerprint = _walk(root, classes)
    path = cache_path(cache_dir, root, classes) if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            cached = _read_cache(path, root, classes, fingerprint)
        except ValueError as exc:
            log.warning("image index cache %s is unreadable (%s); rebuilding it", path, exc)
            cached = None
        if cached is not None:
            return cached
    index = scan(root, classes, files)
    if path is not None:
        try:
            _write_cache(path, index, fingerprint)
        except OSError as exc:
            reason = exc.strerror or exc  # "No space left on device"
            log.warning(
                "could not write the image index cache %s (%s); going on without it", path, reason
            )
    return index
