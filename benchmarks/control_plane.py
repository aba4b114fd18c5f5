"""Benchmark (not a test): what reading a large study costs the dashboard, `searcher frontier` and
a worker, beside the same operation by Optuna's own tools, measured in the same run.

For each size (default 500, 2 000 and 10 000 trials) it builds a study of varied copies of one
real trained trial (benchmarks/study_copies.py) on SQLite, and on PostgreSQL where one answers
at localhost:5432 (trust auth, database `test`), and prints one table (after a first line for
`searcher --help` and `optuna --help`, wall time and peak RSS):

- dashboard: first render, an idle refresh (the live fragment's incremental read), a page rerun
  with nothing new (a user's click) and the refresh after one new trial (read, then the page
  rerun the fragment triggers), through Streamlit's AppTest; optuna-dashboard's API beside it
  (first `GET /api/studies/<id>`, and the refresh that asks only for newer trials, after its
  cache's TTL) when `--optuna-dashboard DIR` names a folder holding it (the script installs
  `optuna-dashboard==0.21.0` and `bottle==0.13.4` there with `pip install --target` if empty);
- `searcher frontier` and `optuna trials`: wall time and peak RSS of each command;
- a worker's bookkeeping per trial: `ask` (divco's TPE sampler vs Optuna's default), reading the
  records (`read_records` vs `study.get_trials`), and the claim (no Optuna counterpart).

With `--idle-cpu-s S` it also opens the largest SQLite study in headless Chromium through
`searcher ui` and reports the server's CPU use over S seconds with live refresh on.

    .venv/bin/python benchmarks/control_plane.py --template sqlite:///runs/divco.db:digits-digits
    .venv/bin/python benchmarks/control_plane.py --sizes 500 2000 --optuna-dashboard /tmp/od
    .venv/bin/python benchmarks/control_plane.py --sizes 10000 --idle-cpu-s 30 --no-postgres
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
import control_plane_probes as probes
import study_copies

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = "postgresql://postgres@localhost:5432/test"
TINY_SPACE = """
families:
  resnet: {depths: [8], widths: [4]}
networks: [1, 2]
image_sizes: [8]
references:
  - {family: resnet, depth: 8, width: 4, image_size: 8}
recipe: {epochs: 1, batch_size: 128, lr: 0.05, warmup_epochs: 0, js_warmup_epochs: 1, augmentation: crop}
"""


def real_template(spec: str | None, workdir: Path) -> tuple[str, str]:
    """`URL:STUDY` of a study with a trained trial, or train one (about half a minute)."""
    if spec:
        url, _, study = spec.rpartition(":")
        return url, study
    (workdir / "tiny.yaml").write_text(TINY_SPACE)
    url = f"sqlite:///{workdir / 'template.db'}"
    command = [sys.executable, "-m", "searcher.cli.main", "run", "--space", "tiny.yaml",
               "--storage", url, "--study", "template", "--n-trials", "1", "--no-pruning"]  # fmt: skip
    subprocess.run(command, cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    return url, "template"


def postgres_answers() -> bool:
    try:
        with socket.create_connection(("localhost", 5432), timeout=1):
            pass
        import sqlalchemy

        sqlalchemy.create_engine(POSTGRES).connect().close()
        return True
    except Exception:
        return False


def measure(url: str, name: str, template, odash: Path | None, size: int) -> list[list[str]]:
    """Every measurement on one study, as table rows (operation, divco, Optuna's tool)."""
    rows = []
    first, idle, rerun_idle, one_new = probes.dashboard(url, name, template, size)
    od = probes.optuna_dashboard(url, name, odash) if odash else None
    rows.append(["dashboard first render / first load", f"{first:.2f} s", od and f"{od[0]:.2f} s"])
    rows.append(
        ["idle refresh (live fragment)", f"{idle * 1e3:.1f} ms", od and f"{od[1] * 1e3:.1f} ms"]
    )
    rows.append(["page rerun, nothing new", f"{rerun_idle:.2f} s", None])
    rows.append(["refresh after one new trial", f"{one_new:.2f} s", od and f"{od[2] * 1e3:.1f} ms"])
    frontier = probes.command([sys.executable, "-m", "searcher.cli.main", "frontier",
                               "--storage", url, "--study", name])  # fmt: skip
    trials = probes.command([str(Path(sys.executable).parent / "optuna"), "trials",
                             "--storage", url, "--study-name", name])  # fmt: skip
    rows.append(
        ["`searcher frontier` / `optuna trials`", f"{frontier[0]:.2f} s", f"{trials[0]:.2f} s"]
    )
    rows.append(["  peak RSS", f"{frontier[1]:.0f} MB", f"{trials[1]:.0f} MB"])
    ask, ask_optuna, records, get_trials, claim = probes.bookkeeping(url, name)
    rows.append(["worker: ask (TPE)", f"{ask * 1e3:.0f} ms", f"{ask_optuna * 1e3:.0f} ms"])
    rows.append(["worker: records", f"{records * 1e3:.1f} ms", f"{get_trials * 1e3:.1f} ms"])
    rows.append(["worker: claim", f"{claim * 1e3:.1f} ms", None])
    return [[r[0], r[1], r[2] or "-"] for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 10000])
    parser.add_argument("--template", help="URL:STUDY holding a trained trial to copy")
    parser.add_argument("--optuna-dashboard", type=Path, help="folder with optuna-dashboard")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--idle-cpu-s", type=float, default=0.0)
    args = parser.parse_args()
    odash = (
        probes.install_optuna_dashboard(args.optuna_dashboard) if args.optuna_dashboard else None
    )
    backends = ["sqlite"] + ([] if args.no_postgres or not postgres_answers() else ["postgresql"])
    bin_dir = Path(sys.executable).parent
    helps = [probes.command([str(bin_dir / tool), "--help"]) for tool in ("searcher", "optuna")]
    print(tabulate([["--help", *(f"{s:.2f} s, {mb:.0f} MB" for s, mb in helps)]],
                   headers=["command", "searcher", "optuna"]), flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        template, study_attrs = study_copies.template_trial(*real_template(args.template, workdir))
        probes.warm_up(workdir, template, study_attrs)
        for size in args.sizes:
            for backend in backends:
                name = f"control-plane-{size}-{os.getpid()}"
                url = POSTGRES if backend == "postgresql" else f"sqlite:///{workdir / f'{size}.db'}"
                started = time.perf_counter()
                study_copies.build(url, name, size, template, study_attrs)
                built = time.perf_counter() - started
                try:
                    rows = measure(url, name, template, odash, size)
                    if args.idle_cpu_s and backend == "sqlite" and size == max(args.sizes):
                        share = probes.idle_cpu(url, name, args.idle_cpu_s)
                        rows.append(
                            [
                                f"server CPU, idle tab, {args.idle_cpu_s:g} s",
                                f"{share:.1%} of a core",
                                "-",
                            ]
                        )
                finally:
                    if backend == "postgresql":
                        probes.delete_study(url, name)
                print(f"\n{size:,} trials, {backend} (built in {built:.1f} s)")
                print(tabulate(rows, headers=["operation", "divco", "Optuna's tool"]), flush=True)


if __name__ == "__main__":
    main()
