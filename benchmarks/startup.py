"""Benchmark (not a test): how long a search on a paper-size space takes to start.

Side by side, in one run:
- `searcher space show --space imagenet` cold (an empty cost cache) and warm (the cache filled);
- today's path before the cache: every member traced by fvcore, one after another, in one
  process (`DIVCO_COST_CACHE=off DIVCO_COST_COUNTER=fvcore`). It takes more than ten minutes on
  a busy 2-core machine, so it is timed on every `--old-every`-th distinct member and
  extrapolated to all of them (plus the start of a process, the warm run's time);
- `searcher run --space imagenet --budget-gflops 20` until its first proposal (`[trial 0]`),
  cold, warm and on today's path.
Wall time depends on what else runs on the machine; CPU time (user + system, the process and
its children) much less, so both are printed. e.g.
    nice .venv/bin/python benchmarks/startup.py --old-every 8
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
SEARCHER = [sys.executable, "-m", "searcher.cli.main"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str], until: str | None, limit_s: float) -> dict:
    """Wall and CPU seconds of `command` until it exits, or until a line starts with `until`
    (then its whole process group is stopped)."""
    cpu, start = children_cpu(), time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    seen, last = False, ""
    try:
        assert process.stdout is not None
        for line in process.stdout:
            last = line.strip() or last
            if until is not None and until in line:
                seen = True
                break
            if time.perf_counter() - start > limit_s:
                break
        wall = time.perf_counter() - start
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    ok = seen if until is not None else process.returncode == 0
    return {"wall_s": wall, "cpu_s": children_cpu() - cpu, "ok": ok, "last": last[:120]}


def old_path_sample(space: str, every: int) -> dict:
    """In a child: fvcore's trace (today's counter) and the meta counter on every `every`-th
    distinct member of the space; their seconds and whether the counts agree."""
    code = f"""
import json, time, resource
from space.search_space import load_space
from space.division import divide
from space.cost import fvcore_count, count
pairs = sorted({{(s, c.image_size) for c in load_space({space!r}).candidates() for s in divide(c)}}, key=repr)
sample = pairs[::{every}]
def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF); return u.ru_utime + u.ru_stime
out = {{"distinct": len(pairs), "sample": len(sample), "equal": 0}}
for name, counter in (("fvcore", fvcore_count), ("meta", lambda s, px: count(s, px, "meta"))):
    wall, c0, counts = time.perf_counter(), cpu(), []
    for spec, px in sample:
        counts.append(counter(spec, px))
    out[name] = {{"wall_s": time.perf_counter() - wall, "cpu_s": cpu() - c0, "counts": counts}}
out["equal"] = sum(a == b for a, b in zip(out["fvcore"].pop("counts"), out["meta"].pop("counts")))
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True, env={**os.environ, "DIVCO_COST_CACHE": "off"})  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="imagenet")
    parser.add_argument("--budget-gflops", default="20")
    parser.add_argument("--old-every", type=int, default=8, help="trace every N-th member")
    parser.add_argument("--limit-s", type=float, default=1200, help="per command")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="divco-startup-"))
    base = {**os.environ, "PYTHONPATH": str(ROOT)}
    new = {**base, "DIVCO_COST_CACHE": str(work / "costs")}
    old = {**base, "DIVCO_COST_CACHE": "off", "DIVCO_COST_COUNTER": "fvcore"}
    show = [*SEARCHER, "space", "show", "--space", args.space]
    rows, results = [], {}

    def run_args(tag: str) -> list[str]:
        return [*SEARCHER, "run", "--space", args.space, "--budget-gflops", args.budget_gflops,
                "--n-trials", "1", "--runs-dir", str(work / f"runs-{tag}"), "--study", tag]  # fmt: skip

    runs = {**new, "DIVCO_COST_CACHE": str(work / "costs-run")}  # the data's classes: own keys
    plan = [
        ("space show, cold (empty cache)", show, new, None),
        ("space show, warm", show, new, None),
        ("run until its first proposal, cold", run_args("cold"), runs, "[trial 0]"),
        ("run until its first proposal, warm", run_args("warm"), runs, "[trial 0]"),
        ("run until its first proposal, today's path", run_args("old"), old, "[trial 0]"),
    ]
    for what, command, env, until in plan:
        r = results[what] = timed(command, env, until, args.limit_s)
        rows.append(
            [what, f"{r['wall_s']:.1f}", f"{r['cpu_s']:.1f}", "yes" if r["ok"] else r["last"]]
        )
        print("done", *rows[-1], flush=True)
    sample = old_path_sample(args.space, args.old_every)
    warm = results["space show, warm"]
    for name in ("fvcore", "meta"):
        per = {k: sample[name][k] / sample["sample"] for k in ("wall_s", "cpu_s")}
        label = "today's path (fvcore, serial)" if name == "fvcore" else "meta counter, serial"
        rows.append([f"space show, {label}: extrapolated from {sample['sample']} of "
                     f"{sample['distinct']} members", f"{warm['wall_s'] + per['wall_s'] * sample['distinct']:.0f}",
                     f"{warm['cpu_s'] + per['cpu_s'] * sample['distinct']:.0f}",
                     f"{per['wall_s']:.2f} s wall / {per['cpu_s']:.2f} s CPU a member"])  # fmt: skip
    rows.append(["counts equal (fvcore vs meta) on the sample", "", "",
                 f"{sample['equal']} of {sample['sample']}"])  # fmt: skip
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(tabulate(rows, headers=["what", "wall s", "CPU s", "ok / note"]))


if __name__ == "__main__":
    main()
