"""Command-line options shared by the `searcher` subcommands, and the config-file overlay."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import yaml

from searcher.api.options import DEFAULT_SPACES, SpaceKind, budget_of, space_of, stopping_of
from searcher.api.options import search_config as api_search_config
from space.errors import ConfigError
from space.presets import preset_names

if TYPE_CHECKING:  # the parser is built without torch: commands that train import it themselves
    from searcher.api.options import SearchOptions
    from searcher.run.config import SearchConfig
    from space.budget import Budget
    from space.search_space import SearchSpace


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints the whole usage on a bad option; one line that names the problem is clearer."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be > 0")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be >= 1")
    return value


def trial_numbers(text: str) -> list[int]:
    """`3,7` -> [3, 7] (`searcher confirm --trials`)."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a list of trial numbers, e.g. 3,7"
        ) from None


def add_budget_arguments(parser: argparse.ArgumentParser, latency: bool = False) -> None:
    parser.add_argument("--budget-gflops", type=positive_float, help="max GFLOPs (multiply-adds)")
    parser.add_argument("--budget-params-m", type=positive_float, help="max parameters, millions")
    if latency:
        parser.add_argument(
            "--budget-latency-ms", type=positive_float, help="max latency (concurrent or fused)"
        )
        parser.add_argument(
            "--latency-batch", type=positive_int, default=1, help="batch of that latency"
        )
        parser.add_argument(
            "--member-latency-ms", type=positive_float, help="T for the slowest member"
        )
        parser.add_argument("--latency-reward", choices=["hard", "soft"], default="hard",
                            help="hard: slowest member <= T; soft: accuracy * (latency / T) ** -0.07")  # fmt: skip


def options_from(args: argparse.Namespace) -> SearchOptions:
    """The parsed options of `run` or `compare` as the API's `SearchOptions` (same names)."""
    from searcher.api.options import SearchOptions

    names = {f.name for f in dataclasses.fields(SearchOptions)}
    return SearchOptions(**{k: v for k, v in vars(args).items() if k in names})


def budget_from(args: argparse.Namespace) -> Budget:
    return budget_of(args)


def space_for(args: argparse.Namespace, kind: SpaceKind) -> SearchSpace:
    """--space, or the data set's preset of the requested kind (`digits`, `digits-hetero`, ...)."""
    return space_of(options_from(args), kind)


def search_config(args: argparse.Namespace, space: SearchSpace) -> SearchConfig:
    return api_search_config(options_from(args), space)


def apply_config_file(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> None:
    """`--config FILE`: YAML of option names (as on the command line, without dashes) whose
    values become defaults; options given on the command line still win."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    if not known.config:
        return
    path = Path(known.config)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"config file {path} is malformed YAML: {' '.join(str(exc).split())}"
        ) from None
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must be a mapping of option names to values")
    words = list(argv) if argv is not None else sys.argv[1:]
    command = words[0] if words else ""
    run = parser._subparsers._group_actions[0].choices.get(command)  # type: ignore[union-attr]
    if run is None:
        raise ConfigError(f"--config applies to run and compare, not {command}")
    valid = sorted(
        a.dest.replace("_", "-") for a in run._actions if a.dest not in ("help", "config")
    )
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid)}"
        )
    run.set_defaults(**{k.replace("-", "_"): v for k, v in values.items()})


def add_storage_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", help="SQLAlchemy URL (default: sqlite file runs/divco.db)")
    parser.add_argument("--study", help="study name (default: <data>-<space>)")
    parser.add_argument("--runs-dir", default="runs", help="checkpoints and the default storage")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """How training reads its images (image folders larger than 1 GiB decoded stream by default)."""
    parser.add_argument("--data-mode", choices=["auto", "memory", "stream"],
                        help="memory: decode once into RAM; stream: loader processes (default auto)")  # fmt: skip
    parser.add_argument("--data-workers", type=positive_int,
                        help="loader processes when streaming (default: from the cores)")  # fmt: skip


def add_search_arguments(parser: argparse.ArgumentParser, n_trials: int) -> None:
    """The options of `run` and `compare`: what to search, on what data, under what budget."""
    parser.add_argument("--config", help="YAML file of these options; command-line options win")
    parser.add_argument(
        "--space", help=f"preset ({', '.join(preset_names())}) or YAML (default: the data set's)"
    )
    parser.add_argument("--data", default="digits", help=f"data set: {', '.join(DEFAULT_SPACES)}")
    parser.add_argument("--data-dir", help="directory of the data set (all but digits)")
    add_data_arguments(parser)
    add_storage_arguments(parser)
    parser.add_argument(
        "--n-trials", type=positive_int, default=n_trials, help="candidates to train"
    )
    parser.add_argument("--timeout", type=positive_float, help="per worker: no new trial after s")
    add_budget_arguments(parser, latency=True)
    parser.add_argument("--objective", default="gflops", choices=["gflops", "latency"])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--latency-runtime", default="pytorch", choices=["pytorch", "onnxruntime"],
                        help="time each trial in PyTorch on --device, or its exported ONNX graphs "
                        "in ONNX Runtime (CPU)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", choices=["scratch", "wide_then_narrow"],
                        help="recipe init of every candidate (default: the space's recipe)")  # fmt: skip
    parser.add_argument("--sampler", default="front", choices=["front", "tpe"],
                        help="front: train the candidate with the largest expected gain in the "
                        "front's hypervolume (default; --objective gflops); tpe: Optuna's "
                        "multivariate TPE (always with --objective latency)")  # fmt: skip
    parser.add_argument("--stopping", choices=["calibrated", "asha", "median", "none"],
                        help="early stopping: calibrated (MO-ASHA's cut at rungs the study showed "
                        "safe, hedged; default), asha (classic MO-ASHA), median (cost-bucket "
                        "median), none")  # fmt: skip
    parser.add_argument(
        "--no-pruning",
        action="store_true",
        help="train every candidate to the end (--stopping none)",
    )
    parser.add_argument("--asha-eta", type=at_least_two, default=3,
                        help="MO-ASHA keeps the top 1/eta at rungs of max_epochs // eta**k epochs")  # fmt: skip
    parser.add_argument(
        "--asha-min-epochs", type=positive_int, default=2, help="the lowest rung (calibrated, asha)"
    )
    add_confirm_arguments(parser)
    parser.add_argument("--references", choices=["first", "last"], default="last",
                        help="when the space's references (the undivided networks the paper "
                        "compares against) train: before any proposal, or in the run's last "
                        "slots (default: last, the front first)")  # fmt: skip


def add_confirm_arguments(parser: argparse.ArgumentParser) -> None:
    """Racing (searcher/run/race_step.py): further seeds for the points the front hangs on."""
    from searcher.run.racing import CAP, CONFIRM_SHARE

    parser.add_argument("--confirm-share", type=share, default=CONFIRM_SHARE,
                        help="most of the training epochs that go to confirmation seeds of "
                        f"contested front points (0: none; default {CONFIRM_SHARE:g})")  # fmt: skip
    parser.add_argument("--confirm-seeds", type=positive_int, default=CAP,
                        help=f"seeds per contested point, its own run included (default {CAP})")  # fmt: skip


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be >= 0 and < 1")
    return value


def at_least_two(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"{text} must be >= 2")
    return value


def stopping_from(args: argparse.Namespace) -> str:
    """--stopping, with --no-pruning kept as the old spelling of `none`."""
    return stopping_of(options_from(args))


def add_pool_arguments(parser: argparse.ArgumentParser, cpu_flag: str) -> None:
    pool = parser.add_mutually_exclusive_group()
    pool.add_argument("--devices", help="GPU indices, one worker process pinned to each: 0,1,2,3")
    pool.add_argument(cpu_flag, dest=cpu_flag.lstrip("-").replace("-", "_"), type=positive_int, default=1,
                      help="number of CPU worker processes")  # fmt: skip
    parser.add_argument("--heartbeat-s", type=positive_int, default=10,
                        help="a killed worker's trial is failed and retried after 3 missed beats")  # fmt: skip
    parser.add_argument("--storage-outage-limit", type=positive_float, default=300.0, metavar="S",
                        help="wait up to S seconds for a database that stopped answering, then stop")  # fmt: skip
    parser.add_argument("--devices-per-trial", type=positive_int, default=1,
                        help="train each trial on K devices (K CPU processes, or K of --devices), "
                        "the batch split over them")  # fmt: skip
