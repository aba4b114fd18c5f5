"""Which worker trains a confirmation seed: a lease in the study attribute `racing:<trial>`.

A confirmation run is no Optuna trial, so it has no trial number to order claims by. Study
attributes are plain upserts (the last write wins, no compare-and-set), so the claim follows
Fischer's timed mutual exclusion: read the lease; if it is free, write this worker's own;
wait `settle_s`; read it again and train only if the lease still names this worker. Two
workers that both saw it free both write, and the later write wins: the earlier one reads the
other's name after its wait and backs off. That holds while a read-then-write takes less
than `settle_s` (one storage round trip against a second).

The lease runs out `lease_s` after its last renewal (every epoch of the run): a killed worker's
seed goes to another worker once it has expired, as Optuna's heartbeat frees a killed trial.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna

from searcher.study.seeds import claim_key, live_claims

SETTLE_S = 1.0


def worker_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class SeedClaims:
    study: optuna.Study
    token: str = field(default_factory=worker_token)
    settle_s: float | None = None  # None: SETTLE_S
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time  # wall clock: leases are read on other machines

    def holder(self, number: int) -> dict[str, Any] | None:
        return live_claims(self.study.user_attrs, self.clock()).get(number)

    def take(self, number: int, seed: int, lease_s: float) -> bool:
        """True when this worker now holds the lease to train `seed` of trial `number`."""
        held = self.holder(number)
        if held is not None and held.get("worker") != self.token:
            return False
        self.write(number, seed, lease_s)
        self.sleep(SETTLE_S if self.settle_s is None else self.settle_s)
        held = self.holder(number)
        return held is not None and held.get("worker") == self.token and held["seed"] == seed

    def write(self, number: int, seed: int, lease_s: float) -> None:
        lease = {"seed": seed, "worker": self.token, "until": self.clock() + lease_s}
        self.study.set_user_attr(claim_key(number), lease)

    def release(self, number: int) -> None:
        if (self.holder(number) or {}).get("worker") == self.token:
            self.study.set_user_attr(claim_key(number), None)
