"""`bonus-engine dev` stopped by SIGTERM stops its embedded PostgreSQL and Valkey, as Ctrl-C does (a process
manager or an IDE stops it with SIGTERM; uvicorn raises that signal again once it has shut down, which used
to end the process before the embedded servers were stopped)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _servers_of(data_dir: Path) -> list[psutil.Process]:
    """The embedded servers' processes: their command lines name the data directory."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(data_dir) in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


def _wait_serving(port: int, dev: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert dev.poll() is None, dev.communicate()[0]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: dev\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("bonus-engine dev did not serve /healthz in time")


def test_sigterm_stops_the_embedded_servers(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "dev-data", _free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    dev = subprocess.Popen([sys.executable, "-m", "app.cli", "dev", "--data", str(data_dir), "--port", str(port)],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_serving(port, dev, timeout_s=120)
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
