"""Where a phase's CPU went: the service's processes, and the whole machine (Linux), in seconds."""

from __future__ import annotations

import os
from pathlib import Path

import psutil


def service_seconds(pid: int) -> float:
    """CPU of `serve` and its workers so far (user + system)."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def machine_seconds() -> float | None:
    """Busy CPU of every core since boot (all but idle and iowait), or None where /proc/stat is missing."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return None
    fields = [int(value) for value in stat.read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def database_seconds(database: str) -> float:
    """CPU so far of this machine's PostgreSQL backends serving `database` (user + system), told apart by
    their process titles (`postgres: … <user> <database> <client> …`): the database's own share of a server
    that other work may be using too (its WAL writer and checkpointer, shared, are not counted). 0 where the
    server is on another machine."""
    total = 0.0
    for process in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        title = process.info["cmdline"] or [""]
        if process.info["name"] == "postgres" and f" {database} " in title[0]:
            times = process.info["cpu_times"]
            total += times.user + times.system
    return total
