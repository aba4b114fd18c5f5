"""Benchmark (not a test): fused members vs the per-member loop, threads and the undivided net.

For WRN-16-8 and ResNeXt-29 (2x64d) at S = 1, 2, 4 (32 px): inference latency in PyTorch
(loop = members one after another, threads = concurrent, fused, undivided) at batch 1 and the
throughput batch; the exported ONNX graphs in ONNX Runtime (CPU provider); training images/s of
the loop vs the fused network. Runs on CUDA where it exists (ONNX Runtime stays on the CPU).
Each part fits a few minutes on a 2-core CPU, e.g.
    .venv/bin/python benchmarks/fused.py --part latency --models wrn
    .venv/bin/python benchmarks/fused.py --part onnx --models wrn --networks 1 4
    .venv/bin/python benchmarks/fused.py --part train --models wrn resnext --train-batch 16
    .venv/bin/python benchmarks/fused.py --part paired --models wrn --networks 4 --rounds 300
`paired` alternates one fused and one undivided call per round (batch 1), so drift and other
load hit both alike, and reports the median of the per-round ratios with its 25-75% range.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from tabulate import tabulate

from space import Candidate
from trainers.cotrain import build_ensemble, resolve_device
from trainers.fused import fuse, probe_input
from trainers.latency import measure_latency
from trainers.losses import cotrain_loss
from trainers.onnx_graph import OUTPUTS, DeployableEnsemble, write_onnx
from trainers.runtime_latency import onnxruntime_latency

MODELS = {
    "wrn": dict(family="wide_resnet", depth=16, width=8),
    "resnext": dict(family="resnext", depth=29, width=64, groups=2),
}


def candidate(model: str, networks: int, size: int) -> Candidate:
    return Candidate(**MODELS[model], networks=networks, image_size=size)  # type: ignore[arg-type]


def latency_part(args: argparse.Namespace, device: torch.device) -> None:
    rows = []
    for model in args.models:
        for s in args.networks:
            c = candidate(model, s, args.image_size)
            table = measure_latency(c, (1, args.batch), device, warmup=5, repeats=args.repeats)
            for batch in (1, args.batch):
                cell = {r.mode: r.median_ms for r in table.rows if r.batch == batch}
                rows.append([c.label, batch, *(f"{cell[m]:.2f}" for m in
                             ("sequential", "concurrent", "fused", "undivided")),
                             f"{cell['fused'] / cell['undivided']:.3f}",
                             table.fastest(batch).mode])  # fmt: skip
            print(f"done {c.label}", flush=True)
    print(f"\nPyTorch inference, median ms per batch; device {table.device}")
    print(tabulate(rows, headers=["candidate", "batch", "loop", "threads", "fused", "undivided",
                                  "fused / undivided", "fastest"]))  # fmt: skip


def _call_ms(module: torch.nn.Module, x: torch.Tensor, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    module(x)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) * 1000


def paired_part(args: argparse.Namespace, device: torch.device) -> None:
    rows = []
    for model in args.models:
        base = build_ensemble(candidate(model, 1, args.image_size), seed=0).eval().to(device)
        for s in (n for n in args.networks if n > 1):
            c = candidate(model, s, args.image_size)
            members = list(build_ensemble(c, seed=0).eval().to(device).members)
            fused = fuse(members, probe_input(c, device)).eval()
            x = torch.randn(1, c.in_channels, c.image_size, c.image_size, device=device)
            pairs = []
            with torch.inference_mode():
                for _ in range(5):  # warm-up
                    fused(x), base(x)
                for i in range(args.rounds):  # alternate which goes first
                    first, second = (fused, base) if i % 2 else (base, fused)
                    a, b = _call_ms(first, x, device), _call_ms(second, x, device)
                    pairs.append((a, b) if first is fused else (b, a))
            ratios = sorted(f / u for f, u in pairs)
            q = lambda v, p: v[int(p * (len(v) - 1))]  # noqa: E731
            rows.append([c.label, args.rounds, f"{statistics.median(f for f, _ in pairs):.2f}",
                         f"{statistics.median(u for _, u in pairs):.2f}",
                         f"{statistics.median(ratios):.3f}",
                         f"{q(ratios, 0.25):.3f}-{q(ratios, 0.75):.3f}"])  # fmt: skip
            print(f"done {c.label}", flush=True)
    print(f"\nPaired batch-1 calls, fused vs undivided, median ms; device {device}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print(tabulate(rows, headers=["candidate", "rounds", "fused", "undivided",
                                  "fused / undivided (median of rounds)", "25-75%"]))  # fmt: skip


def _export(model: torch.nn.Module, c: Candidate, folder: Path, name: str) -> Path:
    example = torch.rand(2, c.in_channels, c.image_size, c.image_size)
    deployable = DeployableEnsemble(model, (0.5,) * c.in_channels, (0.25,) * c.in_channels)
    return write_onnx(deployable.eval(), folder / f"{name}.onnx", example, OUTPUTS)


def onnx_part(args: argparse.Namespace) -> None:
    rows = []
    shape = (3, args.image_size, args.image_size)
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            base: dict[int, float] = {}
            for s in args.networks:
                c = candidate(model, s, args.image_size)
                ensemble = build_ensemble(c, seed=0).eval()
                graphs: dict[str, torch.nn.Module] = (
                    {"fused": fuse(list(ensemble.members), probe_input(c))}
                    if s > 1 else {"undivided": ensemble}
                )  # fmt: skip
                if s > 1 and args.members_graph:
                    graphs["members"] = ensemble
                for graph, module in graphs.items():
                    path = _export(module, c, Path(tmp), f"{model}-{s}-{graph}")
                    modes = ("sequential", "parallel") if graph == "members" else ("sequential",)
                    result = onnxruntime_latency(path, shape, (1, args.batch), modes,
                                                 warmup=5, repeats=args.repeats)  # fmt: skip
                    for row in result["rows"]:
                        if s == 1:
                            base[row["batch"]] = row["median_ms"]
                        ratio = row["median_ms"] / base[row["batch"]] if base else float("nan")
                        rows.append([c.label, graph, row["mode"], row["batch"],
                                     f"{row['median_ms']:.2f}", f"{ratio:.3f}"])  # fmt: skip
                print(f"done {c.label}", flush=True)
    print(f"\nONNX Runtime ({result['runtime']}, {result['provider']}), median ms per batch;"
          " S=1 is the undivided network")  # fmt: skip
    print(tabulate(rows, headers=["candidate", "graph", "ORT mode", "batch", "median ms",
                                  "/ undivided"]))  # fmt: skip


def _images_per_s(run, params, c: Candidate, batch: int, steps: int, device) -> float:
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True)
    size, times = c.image_size, []
    views = [torch.randn(batch, 3, size, size, device=device) for _ in range(c.networks)]
    targets = [torch.randint(0, c.num_classes, (batch,), device=device)] * c.networks
    for step in range(steps + 1):  # the first step warms up
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        loss = cotrain_loss(run(views), targets, 0.5).total
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if step:
            times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def train_part(args: argparse.Namespace, device: torch.device) -> None:
    rows = []
    for model in args.models:
        for s in args.networks:
            c = candidate(model, s, args.image_size)
            ensemble = build_ensemble(c, seed=0).to(device).train()
            fused = fuse(list(ensemble.members), probe_input(c, device)).train()
            loop = _images_per_s(ensemble.member_logits, ensemble.parameters(), c,
                                 args.train_batch, args.steps, device)  # fmt: skip
            one = _images_per_s(fused.member_logits, fused.parameters(), c,
                                args.train_batch, args.steps, device)  # fmt: skip
            rows.append([c.label, args.train_batch, f"{loop:.1f}", f"{one:.1f}",
                         f"{one / loop:.2f}"])  # fmt: skip
            print(f"done {c.label}", flush=True)
    print(f"\nTraining images/s (co-training step, SGD); device {device}")
    print(tabulate(rows, headers=["candidate", "batch", "loop", "fused", "fused / loop"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", nargs="+", default=["latency", "onnx", "train"],
                        choices=["latency", "onnx", "train", "paired"])  # fmt: skip
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--networks", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64, help="throughput batch")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--train-batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=300, help="paired part: calls of each")
    parser.add_argument("--members-graph", action="store_true",
                        help="also export the per-member graph (ORT parallel mode)")  # fmt: skip
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    if "latency" in args.part:
        latency_part(args, device)
    if "onnx" in args.part:
        onnx_part(args)
    if "train" in args.part:
        train_part(args, device)
    if "paired" in args.part:
        paired_part(args, device)


if __name__ == "__main__":
    main()
