"""`searcher`: the command line, a table of subcommands over the library.

Every user-caused error (`DivcoError`) is printed as one line and exits with status 2; nothing
else is caught, so real bugs still show their traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import optuna

from searcher.api.results import POINT_KEYS, csv_cells, open_study
from searcher.cli.options import (
    OneLineErrorParser,
    add_budget_arguments,
    add_data_arguments,
    add_pool_arguments,
    add_search_arguments,
    add_storage_arguments,
    apply_config_file,
    budget_from,
    options_from,
    positive_float,
    positive_int,
    trial_numbers,
)
from searcher.study.frontier import front_view
from searcher.study.open import OBJECTIVE_ATTRS, load_existing_study
from searcher.study.storage import default_storage_url, open_storage
from searcher.study.tables import frontier_rows, render, space_rows, trial_rows
from space.errors import ConfigError, DivcoError
from space.presets import preset_names

Handler = Callable[[argparse.Namespace], int]
OutputFormat = Literal["table", "json", "csv"]  # read-only commands: a table, or data


# Commands that train, measure or export import torch and the trainers inside their handler:
# `--help`, argument errors, `frontier` and `ui` never load them (a test checks `frontier`).


def cmd_compare(args: argparse.Namespace) -> int:
    from searcher.api.search import compare_options

    return compare_options(options_from(args), args.hetero_space)


def cmd_run(args: argparse.Namespace) -> int:
    from searcher.api.search import run_search_options

    return run_search_options(options_from(args))


def cmd_worker(args: argparse.Namespace) -> int:
    from searcher.run.workers import (
        config_from_study,
        parse_devices,
        run_pool,
        trial_slots,
        worker_configs,
    )

    devices = parse_devices(args.devices) if args.devices else []
    config = config_from_study(
        args.storage,
        args.study,
        data_dir=args.data_dir,
        data_mode=args.data_mode,
        data_workers=args.data_workers,
        n_trials=args.n_trials,
        timeout_s=args.timeout,
        runs_dir=Path(args.runs_dir),
        heartbeat_s=args.heartbeat_s,
        storage_outage_limit_s=args.storage_outage_limit,
        devices_per_trial=args.devices_per_trial,
        # distinct sampler seeds on every machine, unless one is asked for (it is stored per trial)
        seed=args.seed if args.seed is not None else os.getpid(),
    )
    if config.n_trials < 1:
        raise ConfigError("the study has no trial target yet; give --n-trials")
    slots = trial_slots(config, devices, args.cpu_workers)
    return run_pool(worker_configs(config, config.n_trials, slots))


def cmd_frontier(args: argparse.Namespace) -> int:
    url = args.storage or default_storage_url(Path(args.runs_dir))
    study = open_study(url, args.study)
    if args.format != "table":  # data: one object per trial, the API's points
        print_points(study.points(args.cost, every=args.all), args.format)
        return 0
    records = study.records()  # plain SQL: flat memory at 10 000 trials, with confirmations
    view = front_view(records, OBJECTIVE_ATTRS.get(args.cost, args.cost))  # seed means, ties
    front = view.front
    if args.all:
        counts = Counter(r.status for r in records)
        summary = ", ".join(f"{n} {status}" for status, n in counts.most_common())
        print(f"study '{study.name}': {len(records)} trials ({summary})")
        print(render(trial_rows(records)))
        return 0
    print(
        f"study '{study.name}': {len(records)} trials, {len(front)} on the accuracy-{args.cost} front"
    )
    print(render(frontier_rows(front, view)))
    return 0


def print_points(points: list[dict[str, Any]], form: OutputFormat) -> None:
    if form == "json":
        print(json.dumps(points, indent=2))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(POINT_KEYS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_cells(points))


def cmd_confirm(args: argparse.Namespace) -> int:
    from searcher.run.confirm import ConfirmRequest, confirm

    request = ConfirmRequest(
        storage=args.storage or default_storage_url(Path(args.runs_dir)),
        study=args.study,
        seeds=args.seeds,
        top=args.top,
        trials=tuple(args.trials or ()),
        data_dir=args.data_dir,
        device=args.device,
        runs_dir=Path(args.runs_dir),
    )
    confirm(request)
    return 0


def add_confirm_parser(commands: argparse._SubParsersAction) -> None:
    confirm = commands.add_parser(
        "confirm", help="retrain front candidates with further seeds (mean ± std per trial)"
    )
    add_storage_arguments(confirm)
    which = confirm.add_mutually_exclusive_group()
    which.add_argument("--top", type=positive_int, help="the N most accurate trials of the front")
    which.add_argument("--trials", type=trial_numbers, help="these trials instead: 3,7")
    confirm.add_argument("--seeds", type=positive_int, default=2, help="further seeds per trial")
    confirm.add_argument("--data-dir", help="the study's data set (all but digits)")
    confirm.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    confirm.set_defaults(handler=cmd_confirm)


def cmd_export(args: argparse.Namespace) -> int:
    from searcher.api.exported import export_trial

    budget = budget_from(args)
    export_trial(
        args.storage or default_storage_url(Path(args.runs_dir)),
        args.study,
        Path(args.out),
        args.trial,
        budget=None if budget.is_unbounded else budget,
        data_dir=args.data_dir,
        force=args.force,
        members_separate=args.members_separate,
        runs_dir=Path(args.runs_dir),
    )
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    url = args.storage or default_storage_url(Path(args.runs_dir))
    if args.study is not None:
        load_existing_study(open_storage(url), args.study)  # a bad URL or name fails here, once
    else:
        open_storage(url)
    app = Path(__file__).resolve().parents[2] / "ui" / "app.py"
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
               "--server.port", str(args.port), "--server.address", args.address,
               "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
               "--", "--storage", url, "--refresh-s", str(args.refresh_s)]  # fmt: skip
    if args.study:
        command += ["--study", args.study]
    print(f"dashboard on http://{args.address}:{args.port} (Ctrl-C stops it)", flush=True)
    # This process becomes the server: SIGTERM, SIGINT and SIGHUP reach Streamlit itself, so
    # stopping `searcher ui` always frees the port (a child could outlive its parent).
    os.execv(sys.executable, command)


def cmd_space_show(args: argparse.Namespace) -> int:
    from space.cost import estimate_all
    from space.search_space import load_space

    space = load_space(args.space)
    budget = budget_from(args)
    estimate_all(space.candidates())  # in parallel, once per machine (space/cost_cache.py)
    rows = space_rows(space.candidates(), budget)
    print(f"space {space.name} ({space.fingerprint}): {len(rows)} candidates; {budget.describe()}")
    print(render(rows))
    fitting = sum(row["budget"] == "fits" for row in rows)
    print(f"{fitting} of {len(rows)} candidates fit the budget")
    return 0


DESCRIPTION = """divco: find the most accurate image model within a FLOP, parameter or latency
budget, where a model may be one wide network divided into S thinner, co-trained members."""
EXAMPLES = """examples:
  searcher run --budget-gflops 20      search the digits data under 20 GFLOPs (resumes if stored)
  searcher frontier --all              every stored trial with its status; without --all the front
  searcher export --best --out deploy/ the most accurate ensemble as ONNX, verified"""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="searcher",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    frontier.add_argument(
        "--all", action="store_true", help="every trial with its status, not only the front"
    )
    frontier.add_argument("--format", choices=list(get_args(OutputFormat)), default="table",
                          help="table for reading; json or csv: one object per point (data)")  # fmt: skip
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
    add_confirm_parser(commands)

    ui = commands.add_parser("ui", help="the Streamlit dashboard over a storage (reads only)")
    add_storage_arguments(ui)
    ui.add_argument("--port", type=positive_int, default=8501)
    ui.add_argument("--address", default="127.0.0.1", help="0.0.0.0 to serve other machines")
    ui.add_argument("--refresh-s", type=positive_float, default=5.0, help="live refresh interval")
    ui.set_defaults(handler=cmd_ui)
    return parser


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
    add_data_arguments(worker)
    worker.add_argument("--runs-dir", default="runs", help="where this machine writes checkpoints")
    worker.add_argument(
        "--n-trials", type=positive_int, help="trained trials in the study in total"
    )
    worker.add_argument("--timeout", type=positive_float, help="per worker: no new trial after s")
    worker.add_argument("--seed", type=int, default=None, help="sampler/training seed base")
    add_pool_arguments(worker, cpu_flag="--cpu-workers")
    worker.set_defaults(handler=cmd_worker)


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
    except BrokenPipeError:  # `searcher frontier --format json | head`: the reader had enough
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit must not fail again
        return 0


if __name__ == "__main__":
    sys.exit(main())
