"""`bonus-engine dev` stopped by SIGTERM stops its embedded PostgreSQL and Valkey, as Ctrl-C does (a process
manager or an IDE stops it with SIGTERM; uvicorn raises that signal again once it has shut down, which used
to end the process before the embedded servers were stopped)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.support import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[1]


def _servers_of(data_dir: Path) -> list[psutil.Process]:
    """The embedded servers' processes: their command lines name the data directory."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(data_dir) in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


def test_sigterm_stops_the_embedded_servers(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "dev-data", free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    dev = subprocess.Popen([sys.executable, "-m", "app.cli", "dev", "--data", str(data_dir), "--port", str(port)],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", dev, timeout_s=120)
        assert _servers_of(data_dir), "the embedded servers run while dev serves"
        dev.send_signal(signal.SIGTERM)
        output, _ = dev.communicate(timeout=60)
    finally:
        if dev.poll() is None:
            dev.kill()
    assert dev.returncode == 128 + signal.SIGTERM, output
    assert "embedded servers stopped" in output, output
    deadline = time.monotonic() + 10  # the servers' own shutdown may take a moment after dev has returned
    while _servers_of(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _servers_of(data_dir), [p.info["cmdline"] for p in _servers_of(data_dir)]
