"""`searcher`: a thin table of subcommands over the library.

Every user-caused error (`DivcoError`) is printed as one line and exits with status 2; nothing
else is caught, so real bugs still show their traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from searcher.tables import render, space_rows
from space.budget import Budget
from space.errors import DivcoError
from space.search_space import load_space, preset_names

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


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget-gflops", type=positive_float, help="max GFLOPs (multiply-adds)")
    parser.add_argument("--budget-params-m", type=positive_float, help="max parameters, millions")


def budget_from(args: argparse.Namespace) -> Budget:
    return Budget(gflops=args.budget_gflops, params_m=args.budget_params_m)


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except DivcoError as exc:
        print(f"searcher: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("searcher: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
