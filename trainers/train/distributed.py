"""One trial on K devices: the members replicated, each global batch split across K processes.

The calling process is rank 0: it evaluates, runs the callbacks (which talk to the study's
storage) and returns the `TrainResult`; ranks 1..K-1 are spawned processes that only train.
Every rank builds the same members (same seeds) and draws the same global batch from its own
feed (same generator seed), so every rank makes every view of the whole batch and keeps its
contiguous shard: augmenting the whole batch is cheap next to the forward and backward, and it
keeps the views exactly those of a one-process run. Each rank computes the loss of its shard as
the one-process loss does (cross-entropy means, JS batch-averaged); after backward the
gradients are averaged over the ranks, which for equal shards is the gradient of the
global-batch mean. BatchNorm statistics are those of the global batch (`nn.SyncBatchNorm` on
GPUs, `GroupBatchNorm` on the CPU, where `nn.SyncBatchNorm` refuses to run), so the trained
weights equal a one-process run's to float tolerance. Dropout and stochastic depth draw their
masks per rank, so with them the runs are equal in distribution only.

A rank that raises or dies makes rank 0 raise a `RuntimeError` naming it; the other ranks are
stopped and joined whatever happens, and a rank whose parent is gone exits by itself.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from space.candidate import Candidate
from space.errors import ConfigError
from trainers.data.source import DataSource
from trainers.train.cotrain import CoTrainer, Peers, TrainingCallback, TrainResult, train
from trainers.train.group_norm import GroupBatchNorm, swap_norms

TIMEOUT_S = 1800.0  # longest wait in a collective: a hung peer fails the trial after this
JOIN_GRACE_S = 10.0  # how long ranks get to exit before they are terminated
FAILURE_WAIT_S = 3.0  # after a failed collective, how long to wait for the failed rank's report


def check_shards(batch_size: int, world_size: int) -> None:
    """Equal shards keep the averaged gradient that of the global batch."""
    if world_size < 1 or batch_size % world_size:
        raise ConfigError(
            f"batch size {batch_size} does not split evenly over {world_size} devices per trial; "
            f"use a batch size that is a multiple of {world_size}"
        )


class Replica(Peers):
    """One rank of the group (see `trainers.train.cotrain.Peers`)."""

    def __init__(self, rank: int, world_size: int, device: torch.device) -> None:
        self.rank, self.world_size = rank, world_size
        self.reporting = rank == 0
        self.device = device  # where collectives run: the GPU for NCCL, the CPU for gloo
        self.share = 1.0 / world_size

    def shard(
        self, inputs: list[Tensor], targets: list[Tensor]
    ) -> tuple[list[Tensor], list[Tensor]]:
        size = len(targets[0])  # short only where images failed to decode (streaming)
        start, end = self.rank * size // self.world_size, (self.rank + 1) * size // self.world_size
        self.share = (end - start) / max(size, 1)  # weights a short batch's shards exactly
        return [x[start:end] for x in inputs], [y[start:end] for y in targets]

    def after_backward(self, model: nn.Module) -> None:
        """One all-reduce of every gradient, flattened: the share-weighted sum is the mean."""
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads]).mul_(self.share)
        if self.share == 0:  # an empty shard's mean loss is NaN; it adds nothing to the sum
            flat.zero_()
        dist.all_reduce(flat)
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view(g.shape))
            offset += g.numel()

    def agree(self, stop: bool) -> bool:
        flag = torch.tensor([int(stop)], device=self.device)
        dist.broadcast(flag, src=0)
        return bool(flag.item())

    def mean(self, loss: float, js: float) -> tuple[float, float]:
        values = torch.tensor([loss, js], dtype=torch.float64, device=self.device)
        dist.all_reduce(values)
        return float(values[0]) / self.world_size, float(values[1]) / self.world_size


@dataclass(frozen=True)
class GroupSpec:
    """What every rank needs to join the group and build the same trainer (sent to spawned ranks)."""

    candidate: Candidate
    data: DataSource
    seed: int
    world_size: int
    backend: str
    port: int
    timeout_s: float
    threads: int


def backend_for(devices: Sequence[str]) -> str:
    """NCCL across GPUs, gloo across CPU processes; one trial never mixes the two."""
    kinds = {torch.device(d).type for d in devices}
    if len(kinds) > 1:
        raise ConfigError(f"the devices of one trial must be all GPUs or all CPU: {list(devices)}")
    return "nccl" if kinds == {"cuda"} else "gloo"


def _place(spec: GroupSpec, device: str) -> torch.device:
    """Sets this process up for its device (before joining: a bad device fails the start)."""
    torch.set_num_threads(spec.threads)
    place = torch.device(device)
    if place.type == "cuda":
        torch.cuda.set_device(place)
    return place


def _join(spec: GroupSpec, rank: int, place: torch.device, store: dist.Store) -> torch.device:
    """Joins the group; the device on which this rank's collectives run."""
    dist.init_process_group(
        spec.backend, store=store, rank=rank, world_size=spec.world_size,
        timeout=timedelta(seconds=spec.timeout_s),
    )  # fmt: skip
    return place if spec.backend == "nccl" else torch.device("cpu")


def _trainer(
    spec: GroupSpec, rank: int, device: str, clock: Callable[[], float], comm: torch.device
) -> CoTrainer:
    torch.manual_seed(spec.seed)
    trainer = CoTrainer(
        spec.candidate, spec.data, spec.seed, device, clock,
        peers=Replica(rank, spec.world_size, comm),
    )  # fmt: skip
    norm = nn.SyncBatchNorm if spec.backend == "nccl" else GroupBatchNorm
    swap_norms(trainer.trained, norm)
    if rank:  # dropout and stochastic depth: independent masks per shard
        torch.manual_seed(spec.seed * 1000 + 500 + rank)
    return trainer


def _follower(spec: GroupSpec, rank: int, device: str, errors: Any, parent: int) -> None:
    """A spawned rank: trains its shards; any failure is reported to rank 0 and exits 1."""
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    trainer = None
    try:
        store = dist.TCPStore("127.0.0.1", spec.port, spec.world_size, is_master=False,
                              timeout=timedelta(seconds=spec.timeout_s))  # fmt: skip
        place = _place(spec, device)
        store.set(f"joined/{rank}", "1")
        comm = _join(spec, rank, place, store)
        trainer = _trainer(spec, rank, device, time.perf_counter, comm)
        trainer.follow()
    except BaseException as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        errors.put((rank, f"{type(exc).__name__}: {first}"))
        raise SystemExit(1) from None
    finally:
        if trainer is not None:
            trainer.close()
        if dist.is_initialized():
            dist.destroy_process_group()


def _exit_with_parent(parent: int) -> None:
    """A rank whose rank 0 was killed must not wait for it until the collective times out."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def train_data_parallel(
    candidate: Candidate,
    data: DataSource,
    *,
    devices: Sequence[str],
    seed: int = 0,
    callbacks: Sequence[TrainingCallback] = (),
    clock: Callable[[], float] = time.perf_counter,
    timeout_s: float = TIMEOUT_S,
) -> TrainResult:
    """`trainers.train.cotrain.train` on len(devices) processes, this one rank 0 on devices[0]; see
    the module docstring. The result is rank 0's, with plain BatchNorm layers again."""
    world_size = len(devices)
    check_shards(candidate.recipe.batch_size, world_size)
    if world_size == 1:
        return train(candidate, data, seed=seed, device=devices[0], callbacks=callbacks,
                     clock=clock)  # fmt: skip
    store = dist.TCPStore("127.0.0.1", 0, world_size, is_master=True,
                          timeout=timedelta(seconds=timeout_s), wait_for_workers=False)  # fmt: skip
    spec = GroupSpec(candidate, data, seed, world_size, backend_for(devices), store.port,
                     timeout_s, torch.get_num_threads())  # fmt: skip
    context = torch.multiprocessing.get_context("spawn")  # CUDA and fork do not mix
    errors = context.SimpleQueue()
    ranks = [
        context.Process(
            target=_follower, args=(spec, r, devices[r], errors, os.getpid()), name=f"rank {r}"
        )
        for r in range(1, world_size)
    ]
    grace = 0.0  # after a failure the other ranks have nothing left to finish
    try:
        for process in ranks:
            process.start()
        result = _lead(spec, devices[0], store, ranks, callbacks, clock)
        grace = JOIN_GRACE_S
        return result
    except Exception as exc:
        failure = _failure(ranks, errors, wait=isinstance(exc, RuntimeError))
        if failure is None:
            raise
        raise RuntimeError(f"data-parallel training failed: {failure}") from exc
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        _stop(ranks, grace)


def _lead(
    spec: GroupSpec, device: str, store: dist.Store, ranks: Sequence[Any],
    callbacks: Sequence[TrainingCallback], clock: Callable[[], float],
) -> TrainResult:  # fmt: skip
    """Rank 0: waits for the others to reach the store, joins, trains, reports."""
    place = _place(spec, device)
    _await_ranks(spec, store, ranks)
    comm = _join(spec, 0, place, store)
    trainer = _trainer(spec, 0, device, clock, comm)
    try:
        result = trainer.fit(callbacks)
    finally:
        trainer.close()
    swap_norms(trainer.trained, nn.BatchNorm2d)
    return result


def _await_ranks(spec: GroupSpec, store: dist.Store, ranks: Sequence[Any]) -> None:
    """Polls the store, so that a rank that dies while starting fails the trial at once
    rather than after the rendezvous timeout."""
    deadline = time.monotonic() + spec.timeout_s
    waiting = list(range(1, spec.world_size))
    while waiting:
        waiting = [r for r in waiting if not store.check([f"joined/{r}"])]
        dead = [p.name for p in ranks if not p.is_alive()]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"ranks {waiting} did not start within {spec.timeout_s:g} s")
        if waiting:
            time.sleep(0.05)


def _failure(ranks: Sequence[Any], errors: Any, wait: bool) -> str | None:
    """What went wrong on the other ranks (None: nothing, the error is rank 0's own). A rank
    reports before it closes its connections, so a failed collective (a RuntimeError: `wait`)
    finds the report at once; a rank killed by a signal is seen by its exit code."""
    deadline = time.monotonic() + (FAILURE_WAIT_S if wait else 0.0)
    while errors.empty() and time.monotonic() < deadline:
        if any(not p.is_alive() and p.exitcode for p in ranks):
            break
        time.sleep(0.05)
    reported: dict[int, str] = {}
    while not errors.empty():
        rank, message = errors.get()
        reported.setdefault(rank, message)
    size = len(ranks) + 1
    failed = [
        f"rank {rank} of {size} raised {reported[rank]}" if rank in reported
        else f"rank {rank} of {size} died (exit code {process.exitcode})"
        for rank, process in enumerate(ranks, start=1)
        if rank in reported or process.exitcode not in (None, 0)
    ]  # fmt: skip
    return "; ".join(failed) or None


def _stop(ranks: Sequence[Any], grace: float) -> None:
    """Joins every started rank; one still running after `grace` s is terminated, then killed."""
    started = [p for p in ranks if p.pid is not None]
    deadline = time.monotonic() + grace
    for process in started:
        process.join(max(0.0, deadline - time.monotonic()))
    for stop in ("terminate", "kill"):
        alive = [p for p in started if p.is_alive()]
        for process in alive:
            getattr(process, stop)()
        for process in alive:
            process.join(5.0)
