"""The measurements of benchmarks/control_plane.py, one function per operation."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import optuna
import study_copies
from optuna.trial import FrozenTrial, TrialState

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "ui" / "app.py")
OPTUNA_DASHBOARD_PINS = ["optuna-dashboard==0.21.0", "bottle==0.13.4"]

# Run with optuna-dashboard on the path: its API as its server answers it (WSGI, no sockets).
OPTUNA_DASHBOARD_HARNESS = """
import json, sys, time
from wsgiref.util import setup_testing_defaults
import optuna
from optuna_dashboard._app import create_app

url, name = sys.argv[1], sys.argv[2]
started = time.perf_counter()
storage = optuna.storages.get_storage(url)  # what optuna-dashboard's run_server does
app = create_app(storage)
study_id = storage.get_study_id_from_name(name)

def get(after):
    environ = {}
    setup_testing_defaults(environ)
    environ["PATH_INFO"], environ["QUERY_STRING"] = f"/api/studies/{study_id}", f"after={after}"
    status = []
    body = b"".join(app(environ, lambda s, headers, *rest: status.append(s)))
    assert status[0].startswith("200"), status
    return len(json.loads(body)["trials"])

seen = get(0)
first = time.perf_counter() - started
app._inmemory_cache._trials_last_fetched_at.clear()  # as after its cache's TTL (10 s)
started = time.perf_counter()
assert get(seen) == 0
idle = time.perf_counter() - started
last = storage.get_all_trials(study_id)[-1]
worker = optuna.load_study(study_name=name, storage=url)
worker.add_trial(optuna.trial.create_trial(params=last.params, distributions=last.distributions,
    values=last.values, user_attrs=last.user_attrs, system_attrs=last.system_attrs))
app._inmemory_cache._trials_last_fetched_at.clear()
started = time.perf_counter()
assert get(seen) == 1
one_new = time.perf_counter() - started
print(json.dumps([first, idle, one_new]))
"""


def install_optuna_dashboard(folder: Path) -> Path:
    if not (folder / "optuna_dashboard").is_dir():
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                   str(folder), *OPTUNA_DASHBOARD_PINS]  # fmt: skip
        subprocess.run(command, check=True)
    return folder


def optuna_dashboard(url: str, name: str, folder: Path) -> tuple[float, float, float]:
    """optuna-dashboard's first load, idle incremental refresh and one-new-trial refresh."""
    env = {**os.environ, "PYTHONPATH": str(folder)}
    out = subprocess.run([sys.executable, "-c", OPTUNA_DASHBOARD_HARNESS, url, name], env=env,
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    first, idle, one_new = (float(v) for v in out.strip().splitlines()[-1].strip("[]").split(","))
    return first, idle, one_new


def dashboard(url: str, name: str, template: FrozenTrial, size: int) -> tuple[float, ...]:
    """divco's first render, idle fragment read, page rerun, and rerun after one new trial."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from ui.reader import StorageReader

    st.cache_resource.clear()  # a fresh server: the storage is opened anew
    sys.argv = ["app.py", "--storage", url, "--study", name]
    started = time.perf_counter()
    app = AppTest.from_file(APP, default_timeout=600).run()
    first = time.perf_counter() - started
    assert not app.exception, app.exception
    reader = StorageReader(url).study(name)  # what the live fragment holds
    reader.refresh()
    started = time.perf_counter()
    reader.refresh()
    idle = time.perf_counter() - started
    started = time.perf_counter()
    app.run()
    rerun = time.perf_counter() - started
    study_copies.add_one(url, name, template, size)
    started = time.perf_counter()
    reader.refresh()  # the fragment sees the change and reruns the page
    app.run()
    one_new = time.perf_counter() - started
    assert f"{size + 1} trials" in app.caption[0].value, app.caption[0].value
    return first, idle, rerun, one_new


def command(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command, measured by GNU time: a child forked from
    this process would count this process's own pages until it execs."""
    with tempfile.NamedTemporaryFile("r") as report:
        timed = ["/usr/bin/time", "-f", "%e %M", "-o", report.name, *argv]
        done = subprocess.run(timed, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr[-500:]}")
        seconds, kilobytes = report.read().split()[-2:]
    return float(seconds), float(kilobytes) / 1024


def bookkeeping(url: str, name: str) -> tuple[float, ...]:
    """One worker trial's reads and writes before training, on a study the worker has read."""
    from searcher.run.claim import claim
    from searcher.study.open import make_sampler
    from searcher.study.records import read_records
    from searcher.study.storage import open_storage

    study = optuna.load_study(study_name=name, storage=open_storage(url), sampler=make_sampler(0))
    distributions = study.get_trials(deepcopy=False)[-1].distributions
    started = time.perf_counter()
    trial = study.ask(fixed_distributions=distributions)
    ask = time.perf_counter() - started
    records = _timed(lambda: read_records(study))
    claim_s = _timed(lambda: claim(trial, "bench-claim", None, poll=lambda: None, wait_limit_s=5))
    study.tell(trial, state=TrialState.FAIL)
    plain = optuna.load_study(study_name=name, storage=open_storage(url))  # Optuna's defaults
    plain.get_trials(deepcopy=False)
    started = time.perf_counter()
    other = plain.ask(fixed_distributions=distributions)
    ask_optuna = time.perf_counter() - started
    plain.tell(other, state=TrialState.FAIL)
    get_trials = _timed(lambda: plain.get_trials(deepcopy=False))
    return ask, ask_optuna, records, get_trials, claim_s


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def warm_up(workdir: Path, template: FrozenTrial, study_attrs: dict) -> None:
    """Imports and first-use costs paid once, before any size is measured."""
    url = f"sqlite:///{workdir / 'warm.db'}"
    study_copies.build(url, "warm", 20, template, study_attrs)
    dashboard(url, "warm", template, 20)


def delete_study(url: str, name: str) -> None:
    optuna.delete_study(study_name=name, storage=url)


def idle_cpu(url: str, name: str, seconds: float) -> float:
    """The `searcher ui` server's CPU share over `seconds` with one headless Chromium tab open."""
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "searcher.cli.main", "ui", "--storage", url, "--study", name,
               "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_healthy(port)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(f"http://127.0.0.1:{port}")
            page.get_by_text(re.compile(r"Pareto front: \d+ of")).wait_for(timeout=300_000)
            page.wait_for_timeout(5000)  # the first render's tail (chart drawing) is over
            before = _cpu_seconds(server.pid)
            page.wait_for_timeout(seconds * 1000)
            after = _cpu_seconds(server.pid)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return (after - before) / seconds


def _wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the dashboard did not start")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
