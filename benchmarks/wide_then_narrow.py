"""Go Wide, Then Narrow on digits: scratch vs `init: wide_then_narrow` at equal member epochs.

For each base network and S, per seed: the scratch candidate, its teacher (S > 1: the S=1
scratch run of the same seed, which is exactly the teacher the search would reuse; S = 1: the
network `teacher_width_factor` times wider, trained here), and the wide_then_narrow candidate
(imitation epochs + remaining epochs = the scratch epochs). Prints mean ± std over seeds of
ensemble and mean member accuracy on the validation split, and the training time without and
with the teacher. Small widths keep the S=1 reference below digits' ceiling.

    .venv/bin/python benchmarks/wide_then_narrow.py                  # full: 3 bases, S 1/2/4, 3 seeds
    .venv/bin/python benchmarks/wide_then_narrow.py --bases resnet:8:2 --networks 1 2 --seeds 1
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterator, Sequence

import torch

from space import Candidate, Recipe
from trainers import load_data, train
from trainers.train.imitation import teacher_candidate, train_wide_then_narrow

BASES = ("resnet:8:4", "resnet:8:8", "wide_resnet:10:2")


def recipe(epochs: int, init: str, imitation_epochs: int) -> Recipe:
    return Recipe(epochs=epochs, batch_size=64, lr=0.05, warmup_epochs=1, js_warmup_epochs=2,
                  augmentation="crop", init=init, imitation_epochs=imitation_epochs)  # fmt: skip


def run_base(
    base: str, networks: Sequence[int], seeds: int, args, data, device: str
) -> Iterator[str]:
    """Table rows, each S's two as soon as they are measured."""
    name, depth, width = base.split(":")
    teachers: dict[int, tuple[torch.nn.Module, float]] = {}  # seed -> S=1 scratch (S>1 teacher)
    for s in sorted(networks):
        results: dict[str, list[tuple[float, float, float, float]]] = {"scratch": [], "wtn": []}
        for seed in range(seeds):
            scratch_c = Candidate(name, int(depth), int(width), networks=s, image_size=args.size,
                                  in_channels=1, recipe=recipe(args.epochs, "scratch", 1))  # fmt: skip
            scratch = train(scratch_c, data, seed=seed, device=device)
            if s == 1:
                teachers[seed] = (scratch.ensemble.members[0], scratch.train_seconds)
            wtn_c = scratch_c.replace(
                recipe=recipe(args.epochs, "wide_then_narrow", args.imitation)
            )
            if s == 1:  # the widened teacher
                wide = train(teacher_candidate(wtn_c), data, seed=seed, device=device)
                teacher, teacher_s = wide.ensemble.members[0], wide.train_seconds
            elif seed in teachers:
                teacher, teacher_s = teachers[seed]
            else:
                wide = train(teacher_candidate(wtn_c), data, seed=seed, device=device)
                teacher, teacher_s = wide.ensemble.members[0], wide.train_seconds
            wtn, _ = train_wide_then_narrow(wtn_c, data, teacher, seed=seed, device=device)
            for key, r, extra in (("scratch", scratch, 0.0), ("wtn", wtn, teacher_s)):
                member = statistics.mean(r.val.member_accuracies)
                results[key].append((r.val.accuracy, member, r.train_seconds, extra))
        for key, label in (("scratch", "scratch"), ("wtn", "wide_then_narrow")):
            cols = list(zip(*results[key], strict=True))
            yield (
                f"| {scratch_c.label.split(' S=')[0]} | {s} | {label} | {fmt(cols[0])} | "
                f"{fmt(cols[1])} | {statistics.mean(cols[2]):.1f} | "
                f"{statistics.mean(a + b for a, b in zip(cols[2], cols[3], strict=True)):.1f} |"
            )


def fmt(values: Sequence[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.1f} ± {100 * std:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bases", nargs="+", default=list(BASES), help="family:depth:width")
    parser.add_argument("--networks", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6, help="member epochs, both recipes")
    parser.add_argument("--imitation", type=int, default=2, help="of which imitation epochs")
    parser.add_argument("--size", type=int, default=8, help="image size")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    data = load_data("digits")
    print(f"digits at {args.size}px, {args.epochs} member epochs ({args.imitation} imitation), "
          f"{args.seeds} seeds, {device}; val accuracy %, mean ± std over seeds")  # fmt: skip
    print("| base | S | init | ensemble acc | member acc | train s | train s + teacher |")
    print("|---|---|---|---|---|---|---|")
    for base in args.bases:
        for row in run_base(base, args.networks, args.seeds, args, data, device):
            print(row, flush=True)


if __name__ == "__main__":
    main()
