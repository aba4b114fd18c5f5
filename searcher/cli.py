"""`searcher`: a thin table of subcommands over the library.

Every user-caused error (`DivcoError`) is printed as one line and exits with status 2; nothing
else is caught, so real bugs still show their traceback.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import optuna
import yaml

from searcher import attrs
from searcher.compare import run_compare
from searcher.config import SearchConfig
from searcher.export import ExportRequest, export
from searcher.frontier import pareto_front
from searcher.records import read_records
from searcher.search import prepare, target_of
from searcher.storage import default_storage_url, open_storage
from searcher.study import OBJECTIVE_ATTRS, load_existing_study
from searcher.tables import frontier_rows, render, space_rows
from searcher.workers import config_from_study, parse_devices, run_pool, worker_configs
from space.budget import Budget
from space.errors import ConfigError, DivcoError
from space.search_space import SearchSpace, load_space, preset_names
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
        parser.add_argument(
            "--member-latency-ms", type=positive_float, help="T for the slowest member"
        )
        parser.add_argument("--latency-reward", choices=["hard", "soft"], default="hard",
                            help="hard: slowest member <= T; soft: accuracy * (latency / T) ** -0.07")  # fmt: skip


def budget_from(args: argparse.Namespace) -> Budget:
    return Budget(
        gflops=args.budget_gflops,
        params_m=args.budget_params_m,
        latency_ms=getattr(args, "budget_latency_ms", None),
        latency_batch=getattr(args, "latency_batch", 1),
        member_latency_ms=getattr(args, "member_latency_ms", None),
        latency_reward=getattr(args, "latency_reward", "hard"),
    )


DEFAULT_SPACES = {
    "digits": "digits",
    "cifar10": "cifar",
    "cifar100": "cifar",
    "imagefolder": "imagenet",
}


def space_for(args: argparse.Namespace, kind: str) -> SearchSpace:
    """--space, or the data set's preset of the requested kind (`digits`, `digits-hetero`, ...)."""
    DATASETS.get(args.data)  # an unknown data set is an error before anything else
    name = args.space or DEFAULT_SPACES[args.data] + ("-hetero" if kind == "heterogeneous" else "")
    if name not in preset_names() and not args.space:
        raise ConfigError(f"no {kind} preset for data set '{args.data}'; give --space FILE")
    space = load_space(name)
    if space.kind != kind:
        raise ConfigError(f"space '{space.name}' is {space.kind}, not {kind} (--space-kind)")
    return space


def search_config(args: argparse.Namespace, space: SearchSpace) -> SearchConfig:
    return SearchConfig(
        space=space,
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
        heartbeat_s=args.heartbeat_s,
    )


def cmd_compare(args: argparse.Namespace) -> int:
    homogeneous = space_for(args, "homogeneous")
    hetero_args = argparse.Namespace(**{**vars(args), "space": args.hetero_space})
    config = search_config(args, homogeneous)
    run_compare(config, space_for(hetero_args, "heterogeneous"))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    devices = parse_devices(args.devices) if args.devices else []
    config = search_config(args, space_for(args, args.space_kind))
    prepared = prepare(config)  # creates and seeds the study once, before any worker starts
    target = target_of(prepared.study, config)
    prepared.study.set_user_attr(attrs.TARGET, target)
    return run_pool(worker_configs(config, target, devices, args.workers), prepared)


def cmd_worker(args: argparse.Namespace) -> int:
    devices = parse_devices(args.devices) if args.devices else []
    config = config_from_study(
        args.storage,
        args.study,
        data_dir=args.data_dir,
        n_trials=args.n_trials,
        timeout_s=args.timeout,
        runs_dir=Path(args.runs_dir),
        heartbeat_s=args.heartbeat_s,
        seed=args.seed,
    )
    if config.n_trials < 1:
        raise ConfigError("the study has no trial target yet; give --n-trials")
    return run_pool(worker_configs(config, config.n_trials, devices, args.cpu_workers))


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


def cmd_export(args: argparse.Namespace) -> int:
    budget = budget_from(args)
    if args.trial is not None and not budget.is_unbounded:
        raise ConfigError("--trial names the trial; budgets choose one with --best")
    request = ExportRequest(
        storage=args.storage or default_storage_url(Path(args.runs_dir)),
        study=args.study,
        out=Path(args.out),
        trial=args.trial,
        budget=None if budget.is_unbounded else budget,
        data_dir=args.data_dir,
        force=args.force,
        members_separate=args.members_separate,
    )
    export(request)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    url = args.storage or default_storage_url(Path(args.runs_dir))
    if args.study is not None:
        load_existing_study(open_storage(url), args.study)  # a bad URL or name fails here, once
    else:
        open_storage(url)
    app = Path(__file__).resolve().parent.parent / "ui" / "app.py"
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
               "--server.port", str(args.port), "--server.address", args.address,
               "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
               "--", "--storage", url, "--refresh-s", str(args.refresh_s)]  # fmt: skip
    if args.study:
        command += ["--study", args.study]
    print(f"dashboard on http://{args.address}:{args.port} (Ctrl-C stops it)", flush=True)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
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

    export_parser = commands.add_parser("export", help="export a trained ensemble (ONNX + weights)")
    add_storage_arguments(export_parser)
    which = export_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--trial", type=int, help="the trial number to export")
    which.add_argument(
        "--best", action="store_true", help="the most accurate trial within the budget"
    )
    add_budget_arguments(export_parser, latency=True)
    export_parser.add_argument("--out", required=True, help="output directory")
    export_parser.add_argument("--data-dir", help="the study's data set (for verification)")
    export_parser.add_argument("--force", action="store_true", help="replace a non-empty --out")
    export_parser.add_argument(
        "--members-separate", action="store_true", help="also one ONNX file per member"
    )
    export_parser.set_defaults(handler=cmd_export)

    ui = commands.add_parser("ui", help="the Streamlit dashboard over a storage (reads only)")
    add_storage_arguments(ui)
    ui.add_argument("--port", type=positive_int, default=8501)
    ui.add_argument("--address", default="127.0.0.1", help="0.0.0.0 to serve other machines")
    ui.add_argument("--refresh-s", type=positive_float, default=5.0, help="live refresh interval")
    ui.set_defaults(handler=cmd_ui)
    return parser


def add_storage_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", help="SQLAlchemy URL (default: sqlite file runs/divco.db)")
    parser.add_argument("--study", help="study name (default: <data>-<space>)")
    parser.add_argument("--runs-dir", default="runs", help="checkpoints and the default storage")


def add_search_arguments(parser: argparse.ArgumentParser, n_trials: int) -> None:
    """The options of `run` and `compare`: what to search, on what data, under what budget."""
    parser.add_argument("--config", help="YAML file of these options; command-line options win")
    parser.add_argument(
        "--space", help=f"preset ({', '.join(preset_names())}) or YAML (default: the data set's)"
    )
    parser.add_argument("--data", default="digits", help=f"data set: {', '.join(DATASETS.keys())}")
    parser.add_argument("--data-dir", help="directory of the data set (all but digits)")
    add_storage_arguments(parser)
    parser.add_argument(
        "--n-trials", type=positive_int, default=n_trials, help="candidates to train"
    )
    parser.add_argument("--timeout", type=positive_float, help="per worker: no new trial after s")
    add_budget_arguments(parser, latency=True)
    parser.add_argument("--objective", default="gflops", choices=["gflops", "latency"])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-pruning", action="store_true", help="train every candidate to the end"
    )


def add_run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="search (family, width, S, image size) under a budget")
    add_search_arguments(run, n_trials=24)
    run.add_argument("--space-kind", choices=["homogeneous", "heterogeneous"], default="homogeneous",
                     help="heterogeneous: every member picks its own architecture")  # fmt: skip
    add_pool_arguments(run, cpu_flag="--workers")
    run.set_defaults(handler=cmd_run)

    compare = commands.add_parser(
        "compare", help="single vs divided vs independent vs heterogeneous"
    )
    add_search_arguments(compare, n_trials=8)
    compare.add_argument(
        "--hetero-space", help="heterogeneous preset or YAML (default: the data set's)"
    )
    compare.add_argument("--heartbeat-s", type=positive_int, default=10, help=argparse.SUPPRESS)
    compare.set_defaults(handler=cmd_compare)

    worker = commands.add_parser("worker", help="join a stored study as one or more workers")
    worker.add_argument("--storage", required=True, help="SQLAlchemy URL of the shared storage")
    worker.add_argument("--study", help="study name (default: the only one in the storage)")
    worker.add_argument("--data-dir", help="this machine's copy of the study's data set")
    worker.add_argument("--runs-dir", default="runs", help="where this machine writes checkpoints")
    worker.add_argument(
        "--n-trials", type=positive_int, help="trained trials in the study in total"
    )
    worker.add_argument("--timeout", type=positive_float, help="per worker: no new trial after s")
    worker.add_argument("--seed", type=int, default=None, help="sampler/training seed base")
    add_pool_arguments(worker, cpu_flag="--cpu-workers")
    worker.set_defaults(handler=cmd_worker)


def add_pool_arguments(parser: argparse.ArgumentParser, cpu_flag: str) -> None:
    pool = parser.add_mutually_exclusive_group()
    pool.add_argument("--devices", help="GPU indices, one worker process pinned to each: 0,1,2,3")
    pool.add_argument(cpu_flag, dest=cpu_flag.lstrip("-").replace("-", "_"), type=positive_int, default=1,
                      help="number of CPU worker processes")  # fmt: skip
    parser.add_argument("--heartbeat-s", type=positive_int, default=10,
                        help="a killed worker's trial is failed and retried after 3 missed beats")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # divco prints its own progress
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
