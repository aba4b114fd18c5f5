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
`paired` calls the fused and the undivided network in turn (batch 1), in both memory layouts
(NCHW, channels-last; with --compiled also under torch.compile, with --onnx the exported graphs
in ONNX Runtime), so drift and other load hit all alike, and reports the median of the per-round ratios with its 25-75% range.
"""

from __future__ import annotations

import argparse
import atexit
import copy
import functools
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

from space import Candidate
from trainers.measure.latency import LAYOUTS, measure_latency, memory_format
from trainers.measure.onnx_graph import OUTPUTS, DeployableEnsemble, write_onnx
from trainers.measure.runtime_latency import open_session
from trainers.train.cotrain import build_ensemble, resolve_device
from trainers.train.fused import fuse, probe_input
from trainers.train.losses import cotrain_loss

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
                             table.fastest(batch).mode,
                             " ".join(f"{r.mode[0]}:{r.layout[:2]}" for r in table.rows
                                      if r.batch == batch)])  # fmt: skip
            print(f"done {c.label}", flush=True)
    print(f"\nPyTorch inference, median ms per batch; device {table.device}")
    print(tabulate(rows, headers=["candidate", "batch", "loop", "threads", "fused", "undivided",
                                  "fused / undivided", "fastest",
                                  "layouts (co: NCHW, ch: channels-last)"]))  # fmt: skip


def _call_ms(module: torch.nn.Module, x: torch.Tensor, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    module(x)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) * 1000


def _variants(model: str, s: int, args: argparse.Namespace, device: torch.device) -> dict:
    """(network, how) -> (callable, input): the undivided network and the fused S, in each layout
    (and compiled, and in ONNX Runtime, where asked)."""
    c = candidate(model, s, args.image_size)
    base = build_ensemble(candidate(model, 1, args.image_size), seed=0).eval().to(device)
    members = list(build_ensemble(c, seed=0).eval().to(device).members)
    nets = {"undivided": base, "fused": fuse(members, probe_input(c, device)).eval()}
    x = torch.randn(1, c.in_channels, c.image_size, c.image_size, device=device)
    variants = {}
    for layout in LAYOUTS:
        fmt = memory_format(layout)
        for name, net in nets.items():
            net = copy.deepcopy(net).to(memory_format=fmt)
            variants[(name, layout)] = (net, x.contiguous(memory_format=fmt))
            if args.compiled:  # Inductor with frozen weights (prepacked, conv + BN folded)
                import torch._inductor.config as inductor

                inductor.freezing = True
                variants[(name, f"{layout}, compiled")] = (
                    torch.compile(net),
                    variants[(name, layout)][1],
                )
    if args.onnx:  # the exported graphs, each in its own ONNX Runtime session (CPU provider)
        folder = Path(tempfile.mkdtemp())
        atexit.register(shutil.rmtree, folder, True)
        for name, net in nets.items():
            graph = _export(copy.deepcopy(net).cpu(), c, folder, name)
            session = open_session(graph, spin=False)  # busy-waiting threads would slow PyTorch
            feed = {session.get_inputs()[0].name: x.cpu().numpy()}
            variants[(name, "onnxruntime")] = (lambda _, s=session, f=feed: s.run(None, f), None)
    return variants


def paired_part(args: argparse.Namespace, device: torch.device) -> None:
    """Round-robin batch-1 calls of every variant (the order rotates each round), so drift and
    other load hit all alike; ratios are medians of per-round ratios, same layout, and the
    medians' ratio of each network in its fastest layout."""
    rows = []
    for model in args.models:
        for s in (n for n in args.networks if n > 1):
            variants = _variants(model, s, args, device)
            keys = list(variants)
            times: dict = {k: [] for k in keys}
            with torch.inference_mode():
                for key in keys:  # warm-up (and compilation)
                    for _ in range(5):
                        variants[key][0](variants[key][1])
                for i in range(args.rounds):
                    for key in keys[i % len(keys) :] + keys[: i % len(keys)]:
                        times[key].append(_call_ms(*variants[key], device))
            median = {k: statistics.median(v) for k, v in times.items()}
            label = candidate(model, s, args.image_size).label
            for layout in sorted({k[1] for k in keys}, key=[k[1] for k in keys].index):
                ratios = sorted(f / u for f, u in zip(times[("fused", layout)],
                                                      times[("undivided", layout)], strict=True))  # fmt: skip
                rows.append([label, layout, f"{median[('fused', layout)]:.2f}",
                             f"{median[('undivided', layout)]:.2f}", f"{statistics.median(ratios):.3f}",
                             f"{_q(ratios, 0.25):.3f}-{_q(ratios, 0.75):.3f}"])  # fmt: skip
            best = {  # eager PyTorch, each network in its faster layout (what the latency table does)
                n: min((m, k[1]) for k, m in median.items() if k[0] == n and k[1] in LAYOUTS)
                for n in ("fused", "undivided")
            }
            rows.append([label, f"eager, each in its faster layout: fused {best['fused'][1]}, "
                         f"undivided {best['undivided'][1]}",
                         f"{best['fused'][0]:.2f}", f"{best['undivided'][0]:.2f}",
                         f"{best['fused'][0] / best['undivided'][0]:.3f}", ""])  # fmt: skip
            print(f"done {label}", flush=True)
    print(f"\nRound-robin batch-1 calls, fused vs undivided, median ms; device {device}, "
          f"{torch.get_num_threads()} threads, {args.rounds} rounds")  # fmt: skip
    print(tabulate(rows, headers=["candidate", "layout", "fused", "undivided",
                                  "fused / undivided", "25-75%"]))  # fmt: skip


def _q(values: list[float], p: float) -> float:
    return values[int(p * (len(values) - 1))]


def _export(model: torch.nn.Module, c: Candidate, folder: Path, name: str) -> Path:
    example = torch.rand(2, c.in_channels, c.image_size, c.image_size)
    deployable = DeployableEnsemble(model, (0.5,) * c.in_channels, (0.25,) * c.in_channels)
    return write_onnx(deployable.eval(), folder / f"{name}.onnx", example, OUTPUTS)


def _onnx_cells(args: argparse.Namespace, folder: Path) -> dict:
    """(candidate, graph, ORT mode, batch) -> one call of that session on random images."""
    cells, rng = {}, np.random.default_rng(0)
    for model in args.models:
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
                path = _export(module, c, folder, f"{model}-{s}-{graph}")
                for mode in ("sequential", "parallel") if graph == "members" else ("sequential",):
                    session = open_session(path, mode, spin=False)
                    name = session.get_inputs()[0].name
                    for batch in (1, args.batch):
                        images = rng.random(
                            (batch, 3, c.image_size, c.image_size), dtype=np.float32
                        )
                        run = functools.partial(session.run, None, {name: images})
                        cells[(c.label, graph, mode, batch, model)] = run
    return cells


def onnx_part(args: argparse.Namespace) -> None:
    """Every session is called once per round, the order rotating, `--repeats` rounds: a
    drifting machine hits every cell alike (timed one graph after the other, the same two graphs
    read 1.18x here and 0.98x-1.02x alternated). Sessions do not spin between calls, or each
    would take the next one's cores."""
    import onnxruntime

    with tempfile.TemporaryDirectory() as tmp:
        cells = _onnx_cells(args, Path(tmp))
        keys, times = list(cells), {key: [] for key in cells}
        for key in keys:  # warm-up
            for _ in range(3):
                cells[key]()
        for i in range(args.repeats):
            for key in keys[i % len(keys) :] + keys[: i % len(keys)]:
                start = time.perf_counter()
                cells[key]()
                times[key].append((time.perf_counter() - start) * 1000)
            print(f"round {i + 1}/{args.repeats}", end="\r", flush=True)
    median = {key: statistics.median(t) for key, t in times.items()}
    base = {(k[4], k[3]): m for k, m in median.items() if k[1] == "undivided"}
    rows = [[label, graph, mode, batch, f"{m:.2f}",
             f"{m / base[(model, batch)]:.3f}" if (model, batch) in base else "-"]
            for (label, graph, mode, batch, model), m in median.items()]  # fmt: skip
    print(f"\nONNX Runtime {onnxruntime.__version__} (CPU provider, no spinning), median ms per"
          f" batch over {args.repeats} round-robin rounds; S=1 is the undivided network")  # fmt: skip
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
    parser.add_argument(
        "--compiled",
        action="store_true",
        help="paired part: also torch.compile (Inductor, frozen weights) variants",
    )
    parser.add_argument("--onnx", action="store_true",
                        help="paired part: also the exported graphs in ONNX Runtime")  # fmt: skip
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
