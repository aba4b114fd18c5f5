"""`searcher ui` owns its server: a signal that stops it stops Streamlit and frees the port."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.fake_study import make_study
from tests.ui.server import Server, dashboard_server, port_in_use

pytestmark = pytest.mark.slow  # dashboard servers


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    make_study(url, trained=4)
    with dashboard_server(url, "fake", tmp_path) as running:
        yield running


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_to_searcher_ui_frees_its_port(server: Server, signum: int) -> None:
    assert port_in_use(server.port)
    os.kill(server.process.pid, signum)  # the pid `searcher ui` was started as
    deadline = time.monotonic() + 20
    while port_in_use(server.port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not port_in_use(server.port)
    server.process.wait(timeout=20)
