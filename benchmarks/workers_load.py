"""Benchmark (not a test): N workers on one PostgreSQL study, training replaced by a fixed sleep.

For each N (default 1, 8, 32, 64) it creates a throw-away database on localhost:5432 (trust auth),
a study with a target of N x --per-worker trained trials, and starts N stand-in workers
(benchmarks/control_plane_standin.py: the real claim, heartbeat, stale-trial and recovery code,
no torch; --proxy: through Optuna's gRPC storage proxy). Once all have loaded the study they
start together; it prints, per N: trials per minute against the ideal N x 60 / trial-s, the
claim's latency (median, p99), the control plane's time per trained trial, peak database
connections, database and worker CPU, worker RSS, and checks that the target is exact, no
candidate trained twice and no trial is left running.
The database is dropped afterwards. --trial-s 0 measures the control plane alone.

    nice .venv/bin/python benchmarks/workers_load.py --workers 1 8 32 64 --trial-s 60
    nice .venv/bin/python benchmarks/workers_load.py --workers 8 --trial-s 0 --per-worker 4
    nice .venv/bin/python benchmarks/workers_load.py --workers 64 --proxy   # Optuna's gRPC proxy
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy
from tabulate import tabulate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
ADMIN = "postgresql://postgres@localhost:5432/postgres"
STANDIN = HERE / "control_plane_standin.py"  # never imported here: it replaces space.candidate
REFERENCES = [
    {"family": "resnet", "resnet.depth": 20, "resnet.width": 16, "networks": 1, "image_size": 32},
    {
        "family": "wide_resnet",
        "wide_resnet.depth": 16,
        "wide_resnet.width": 4,
        "networks": 1,
        "image_size": 32,
    },
]


@contextlib.contextmanager
def throwaway_database(name: str) -> Iterator[str]:
    """A fresh database, dropped afterwards whatever happens (its connections are ended)."""
    admin = sqlalchemy.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@localhost:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def create_study(url: str, target: int) -> None:
    import optuna

    from searcher.study import attrs
    from searcher.study.open import DIRECTIONS
    from searcher.study.storage import open_storage

    study = optuna.create_study(storage=open_storage(url), study_name="load",
                                directions=list(DIRECTIONS))  # fmt: skip
    for params in REFERENCES:
        study.enqueue_trial(params)
    study.set_user_attr(attrs.TARGET, target)


class DatabaseProbe:
    """Samples this database's connections and its backends' CPU time (from /proc)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.engine = sqlalchemy.create_engine(ADMIN, poolclass=sqlalchemy.pool.NullPool)
        self.peak_connections, self.cpu = 0, dict[int, float]()

    def sample(self) -> None:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = :db"
        with self.engine.connect() as connection:
            pids = [row[0] for row in connection.execute(sqlalchemy.text(query),
                                                         {"db": self.database})]  # fmt: skip
        self.peak_connections = max(self.peak_connections, len(pids))
        for pid in pids:
            with contextlib.suppress(OSError):
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu_seconds(pid))

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu.values())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_workers(
    n: int, storage: str, target: int, trial_s: float, folder: Path, wait: str = "narrowed"
) -> list[subprocess.Popen]:
    workers = []
    for i in range(n):
        command = ["nice", sys.executable, str(STANDIN), "--storage", storage, "--study", "load",
                   "--target", str(target), "--trial-s", str(trial_s), "--seed", str(i),
                   "--go", str(folder / "go"), "--out", str(folder / f"w{i}.json"),
                   "--wait", wait]  # fmt: skip
        with open(folder / f"w{i}.err", "w") as err:
            workers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err,
                                            start_new_session=True))  # fmt: skip
    return workers


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    for process in processes:
        process.wait()


def wait_ready(folder: Path, n: int, workers: list[subprocess.Popen], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while len(list(folder.glob("w*.ready"))) < n:
        if time.monotonic() > deadline or any(w.poll() not in (None, 0) for w in workers):
            raise SystemExit(f"workers did not start: {next(folder.glob('w*.err')).read_text()}")
        time.sleep(0.2)


def check_study(url: str, target: int) -> tuple[int, int, int]:
    """(trained trials, candidates trained more than once, trials left running)."""
    import optuna
    from optuna.trial import TrialState

    from searcher.run.claim import counts_toward_target
    from searcher.study import attrs

    study = optuna.load_study(study_name="load", storage=url)
    trials = study.get_trials(deepcopy=False)
    trained = [t for t in trials if t.state.is_finished() and counts_toward_target(t)]
    ids = [t.user_attrs[attrs.CANDIDATE_ID] for t in trained]
    running = sum(t.state == TrialState.RUNNING for t in trials)
    if len(trained) != target or os.environ.get("WORKERS_LOAD_DUMP"):
        dump = [
            [
                t.number,
                t.state.name,
                t.user_attrs.get(attrs.STATUS),
                t.user_attrs.get(attrs.CANDIDATE_ID),
                t.user_attrs.get(attrs.WORKER),
                str(t.datetime_start),
                str(t.datetime_complete),
            ]
            for t in trials
        ]
        Path(os.environ.get("WORKERS_LOAD_DUMP", "/tmp/workers_load_dump.json")).write_text(
            json.dumps(dump)
        )
    return len(trained), len(ids) - len(set(ids)), running


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PROXY = """
import sys, optuna
from searcher.study.storage import open_storage
optuna.storages.run_grpc_proxy_server(open_storage(sys.argv[1]), host="localhost",
                                      port=int(sys.argv[2]))
"""


def start_proxy(url: str, folder: Path) -> tuple[subprocess.Popen, str]:
    """Optuna's gRPC storage proxy in front of the database (needs grpcio; not a divco
    dependency: it has no heartbeat, see docs/benchmarks/workers-load.md); workers talk to it."""
    try:
        import grpc  # noqa: F401
    except ImportError:
        raise SystemExit("--proxy needs grpcio: .venv/bin/pip install grpcio==1.85.1") from None
    port = free_port()
    with open(folder / "proxy.err", "w") as err:
        proxy = subprocess.Popen([sys.executable, "-c", PROXY, url, str(port)], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)  # fmt: skip
    return proxy, f"grpc://localhost:{port}"


def run_one(
    n: int, trial_s: float, per_worker: int, proxy: bool = False, limit_s: float = 900,
    wait: str = "narrowed",
) -> dict:  # fmt: skip
    """One N: the workers from the common start to their exit, and the study's check."""
    target = n * per_worker
    name = f"divco_load_{os.getpid()}_{n}"
    with throwaway_database(name) as url, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        create_study(url, target)
        processes: list[subprocess.Popen] = []
        try:
            storage = url
            if proxy:
                server, storage = start_proxy(url, folder)
                processes.append(server)
            workers = start_workers(n, storage, target, trial_s, folder, wait)
            processes += workers
            wait_ready(folder, n, workers, limit_s)
            probe = DatabaseProbe(name)
            probe.sample()
            (folder / "go").touch()
            go, deadline = time.time(), time.monotonic() + limit_s
            while any(w.poll() is None for w in workers) and time.monotonic() < deadline:
                probe.sample()
                time.sleep(0.5)
            timed_out = any(w.poll() is None for w in workers)
            proxy_cpu = cpu_seconds(processes[0].pid) if proxy else 0.0
        finally:
            stop(processes)
        outs = [json.loads(p.read_text()) for p in sorted(folder.glob("w*.json"))]
        if os.environ.get("WORKERS_LOAD_OUTS"):  # every worker's trial log, for a timeline
            Path(os.environ["WORKERS_LOAD_OUTS"]).write_text(json.dumps({"go": go, "outs": outs}))
        trained, twice, running = check_study(url, target)
    row = summarise(n, trial_s, target, go, outs, probe, (trained, twice, running), timed_out)
    if proxy:
        row["DB CPU s/trial"] = f"{row['DB CPU s/trial']} + proxy {proxy_cpu / max(1, trained):.3f}"
    return {"wait": wait + (" (proxy)" if proxy else ""), **row}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def steady_per_min(trained: list[dict], n: int) -> float:
    """Trained trials a minute once the first round is done: from the N-th trained trial's
    end to the last one's. All N workers start together, so the first round measures the
    start-up burst (every worker proposing at the same instant), not the rate a study keeps."""
    ends = sorted(t["end"] for t in trained)
    if len(ends) <= n or ends[-1] <= ends[n - 1]:
        return float("nan")
    return (len(ends) - n) / (ends[-1] - ends[n - 1]) * 60


def summarise(n, trial_s, target, go, outs, probe, check, timed_out) -> dict:  # type: ignore[no-untyped-def]
    trials = [t for out in outs for t in out["trials"] if "end" in t]
    trained = [t for t in trials if t["status"] == "trained"]
    last = max((t["end"] for t in trained), default=go)
    wall = last - go
    claims = [t["claim_s"] for t in trials if "claim_s" in t]
    overhead = [t["overhead_s"] for t in trained]
    ideal = n * 60 / trial_s if trial_s else float("inf")
    per_min = len(trained) / wall * 60 if wall > 0 else float("nan")
    steady = steady_per_min(trained, n)
    return {
        "N": n, "trial s": trial_s, "target": target, "wall s": round(wall, 1),
        "trials/min": round(per_min, 1), "ideal/min": round(ideal, 1),
        "of ideal": f"{per_min / ideal:.1%}" if trial_s else "-",
        "after round 1": f"{steady / ideal:.1%}" if trial_s and steady == steady else "-",
        "claim median ms": round(statistics.median(claims) * 1e3, 1) if claims else "-",
        "claim p99 ms": round(percentile(claims, 0.99) * 1e3, 1),
        "control plane s/trial": round(statistics.median(overhead), 3) if overhead else "-",
        "other trials": len(trials) - len(trained),
        "DB conns (peak)": probe.peak_connections,
        "DB CPU s/trial": round(probe.cpu_s / max(1, len(trained)), 3),
        "worker CPU s/trial": round(sum(o["run_cpu_s"] for o in outs) / max(1, len(trained)), 3),
        "start-up CPU s": round(statistics.mean([o["cpu_s"] - o["run_cpu_s"] for o in outs] or [0]), 2),
        "worker RSS MB": round(max((o["rss_mb"] for o in outs), default=0)),
        "exact": "yes" if check[0] == target and not timed_out else f"no ({check[0]})",
        "trained twice": check[1], "left running": check[2],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--trial-s", type=float, default=60.0, help="stand-in training time")
    parser.add_argument("--per-worker", type=int, default=2, help="trials per worker (target/N)")
    parser.add_argument("--proxy", action="store_true", help="through Optuna's gRPC proxy")
    parser.add_argument("--wait", choices=["narrowed", "all"], default="narrowed",
                        help="all: the claim's wait before it was narrowed, for comparison")  # fmt: skip
    parser.add_argument("--limit-s", type=float, default=900.0, help="per N, start-up included")
    args = parser.parse_args()
    rows = []
    for n in args.workers:
        rows.append(run_one(n, args.trial_s, args.per_worker, args.proxy, args.limit_s, args.wait))
        print(json.dumps(rows[-1]), flush=True)
    print(tabulate([list(r.values()) for r in rows], headers=list(rows[0])))


if __name__ == "__main__":
    main()
