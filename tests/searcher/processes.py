"""Real `searcher` processes for the worker tests, with their output read as it comes."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[2]


class SearcherProcess:
    """A `searcher` subprocess; every one still alive is killed after its test (conftest)."""

    live: ClassVar[list[SearcherProcess]] = []

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = os.environ | {"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "searcher.cli.main", *args],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        SearcherProcess.live.append(self)

    def kill(self) -> None:
        """SIGKILL to the process group: a pool's worker processes go with their parent."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    @classmethod
    def kill_all(cls) -> None:
        while cls.live:
            cls.live.pop().kill()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        regex, deadline, seen = re.compile(pattern), time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            for line in self.lines[seen:]:
                if match := regex.search(line):
                    return match
            seen = len(self.lines)
            if self.proc.poll() is not None and seen == len(self.lines):
                break
            time.sleep(0.05)
        raise AssertionError(
            f"no line matching {pattern!r}; output:\n" + "\n".join(self.lines[-40:])
        )

    def finish(self, timeout: float = 300) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


# Trials of 4 short epochs and no time limit: a trial is still training when its first epoch is
# reported, however slow the machine, so a signal sent then always lands mid-trial.
POOL_SPACE = """
families:
  resnet: {depths: [8], widths: [2, 4, 8]}
  wide_resnet: {depths: [10], widths: [1]}
networks: [1, 2]
image_sizes: [8, 12]
references:
  - {family: resnet, depth: 8, width: 4, image_size: 8}
recipe: {epochs: 4, batch_size: 128, lr: 0.05, warmup_epochs: 0, js_warmup_epochs: 1,
         augmentation: crop}
"""
