"""`make ui` started in the background stops, with every process it started, on SIGTERM sent to
make alone, as a service manager or a terminal's job control sends it."""

from __future__ import annotations

import os
import signal
import time
import urllib.request

from tests.conftest import REPO, process_group, process_members
from tests.dagster_servers import free_port


def test_make_ui_stops_cleanly_on_sigterm(local_env, tmp_path):
    port = free_port()
    env = {**os.environ, "UI_PORT": str(port)}
    with open(tmp_path / "ui.log", "w") as log, process_group(["make", "ui"], cwd=REPO, env=env, stdout=log, stderr=log) as make:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(1)
        else:
            raise AssertionError(f"the UI did not come up: {(tmp_path / 'ui.log').read_text()[-2000:]}")
        assert len(process_members(make.pid)) > 2, "the webserver, daemon and code server run under make"
        make.send_signal(signal.SIGTERM)
        make.wait(timeout=60)
        deadline = time.monotonic() + 60
        while process_members(make.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not process_members(make.pid), f"left running after SIGTERM: {process_members(make.pid)}"
