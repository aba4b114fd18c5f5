"""`searcher`: a thin table of subcommands over the library.

Every user-caused error (`DivcoError`) is printed as one line and exits with status 2; nothing
else is caught, so real bugs still show their traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import optuna
import yaml

from searcher.frontier import pareto_front
from searcher.records import read_records
from searcher.search import SearchConfig, run_search
from searcher.storage import default_storage_url, open_storage
from searcher.study import OBJECTIVE_ATTRS, load_existing_study
from searcher.tables import frontier_rows, render, space_rows
from space.budget import Budget
from space.errors import ConfigError, DivcoError
from space.search_space import load_space, preset_names
from trainers.data import DATASETS

Handler = Callable[[argparse.Namespace], int]


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


def add_budget_arguments(parser: argparse.ArgumentParser, latency: bool = False) -> None:
    parser.add_argument("--budget-gflops", type=positive_float, help="max GFLOPs (multiply-adds)")
    parser.add_argument("--budget-params-m", type=positive_float, help="max parameters, millions")
    if latency:
        parser.add_argument(
            "--budget-latency-ms", type=positive_float, help="max concurrent latency"
        )
        parser.add_argument(
            "--latency-batch", type=positive_int, default=1, help="batch of that latency"
        )


def budget_from(args: argparse.Namespace) -> Budget:
    return Budget(
        gflops=args.budget_gflops,
        params_m=args.budget_params_m,
        latency_ms=getattr(args, "budget_latency_ms", None),
        latency_batch=getattr(args, "latency_batch", 1),
    )


def cmd_run(args: argparse.Namespace) -> int:
    config = SearchConfig(
        space=load_space(args.space),
        data=args.data,
        data_dir=args.data_dir,
        storage=args.storage,
        study=args.study,
        n_trials=args.n_trials,
        timeout_s=args.timeout,
        budget=budget_from(args),
        objective=args.objective,
        device=args.device,
        seed=args.seed,
        runs_dir=Path(args.runs_dir),
        pruning=not args.no_pruning,
    )
    DATASETS.get(config.data)  # an unknown data set is an error before anything else
    try:
        run_search(config, out=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        print("searcher: interrupted; the running trial is marked failed and every stored trial kept."
              " Run the same command again to resume.", file=sys.stderr)  # fmt: skip
        return 130
    return 0


def cmd_frontier(args: argparse.Namespace) -> int:
    url = args.storage or default_storage_url(Path(args.runs_dir))
    study = load_existing_study(open_storage(url), args.study)
    records = read_records(study)
    cost = OBJECTIVE_ATTRS.get(args.cost, args.cost)
    front = pareto_front(records, cost)
    print(
        f"study '{study.study_name}': {len(records)} trials, {len(front)} on the accuracy-{args.cost} front"
    )
    print(render(frontier_rows(front)))
    return 0


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
    run = parser._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    valid = sorted(
        a.dest.replace("_", "-") for a in run._actions if a.dest not in ("help", "config")
    )
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid)}"
        )
    run.set_defaults(**{k.replace("-", "_"): v for k, v in values.items()})


def cmd_space_show(args: argparse.Namespace) -> int:
    space = load_space(args.space)
    budget = budget_from(args)
    rows = space_rows(space.candidates(), budget)
    print(f"space {space.name} ({space.fingerprint}): {len(rows)} candidates; {budget.describe()}")
    print(render(rows))
    fitting = sum(row["budget"] == "fits" for row in rows)
    print(f"{fitting} of {len(rows)} candidates fit the budget")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="searcher", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    space = commands.add_parser("space", help="inspect search spaces")
    space_commands = space.add_subparsers(dest="space_command", required=True, metavar="ACTION")
    show = space_commands.add_parser("show", help="list a space's candidates with their costs")
    show.add_argument(
        "--space", default="digits", help=f"preset ({', '.join(preset_names())}) or YAML"
    )
    add_budget_arguments(show)
    show.set_defaults(handler=cmd_space_show)
    add_run_parser(commands)

    frontier = commands.add_parser("frontier", help="print the Pareto front of a stored study")
    add_storage_arguments(frontier)
    frontier.add_argument("--cost", default="gflops", choices=["gflops", "params_m", "latency"])
    frontier.set_defaults(handler=cmd_frontier)
    return parser


def add_storage_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", help="SQLAlchemy URL (default: sqlite file runs/divco.db)")
    parser.add_argument("--study", help="study name (default: <data>-<space>)")
    parser.add_argument("--runs-dir", default="runs", help="checkpoints and the default storage")


def add_run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="search (family, width, S, image size) under a budget")
    run.add_argument("--config", help="YAML file of these options; command-line options win")
    run.add_argument(
        "--space", default="digits", help=f"preset ({', '.join(preset_names())}) or YAML"
    )
    run.add_argument("--data", default="digits", help=f"data set: {', '.join(DATASETS.keys())}")
    run.add_argument("--data-dir", help="directory of the data set (all but digits)")
    add_storage_arguments(run)
    run.add_argument(
        "--n-trials", type=positive_int, default=16, help="candidates to train this run"
    )
    run.add_argument(
        "--timeout", type=positive_float, help="stop starting trials after this many s"
    )
    add_budget_arguments(run, latency=True)
    run.add_argument("--objective", default="gflops", choices=["gflops", "latency"])
    run.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--no-pruning", action="store_true", help="train every candidate to the end")
    run.set_defaults(handler=cmd_run)


def main(argv: Sequence[str] | None = None) -> int:
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # divco prints its own progress
    parser = build_parser()
    try:
        apply_config_file(parser, argv)
        args = parser.parse_args(argv)
        return args.handler(args)
    except DivcoError as exc:
        print(f"searcher: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("searcher: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
