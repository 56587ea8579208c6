"""A Redis Cluster on this machine for the tests: three masters of Debian's `redis-server --cluster-enabled
yes`, joined by `redis-cli --cluster create`, every slot covered. `tests/test_redis_cluster.py` stops nodes
of one under load; with BONUS_TEST_REDIS_CLUSTER=1 the whole test run keeps its cache on one (tests/conftest.py;
`make citus-test` does, so that the engine is tested on a Citus cluster and a Redis Cluster together).
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import time

from .cluster import port_is_free

MASTERS = 3


def cli(port: int, *args: str) -> str:
    """redis-cli against one node; its output, or RuntimeError with its complaint."""
    done = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"redis-cli -p {port} {' '.join(args)}: {done.stderr}")
    return done.stdout


def _free_ports() -> list[int]:
    """A port for each node, with its cluster bus port (the port + 10000) free too."""
    while True:
        ports = random.sample(range(12_000, 20_000), MASTERS)
        if all(port_is_free(port) and port_is_free(port + 10_000) for port in ports):
            return ports


class RedisNodes:
    """The masters of a fresh cluster, each a process on its port; `stop()` ends them all."""

    def __init__(self) -> None:
        assert shutil.which("redis-server") and shutil.which("redis-cli"), "redis-server and redis-cli are needed"
        self.directory = tempfile.mkdtemp(prefix="bonus-redis-cluster-")
        self.nodes: list[tuple[int, subprocess.Popen[bytes]]] = []
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        for port in _free_ports():
            process = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", f"nodes-{port}.conf", "--dir", self.directory, "--save", "",
                 "--appendonly", "no",
                 # as deploy/SCALING.md asks: the others keep serving when a master without a replica is lost
                 "--cluster-require-full-coverage", "no"], stdout=subprocess.DEVNULL)
            self.nodes.append((port, process))
        for port in self.ports:
            for _ in range(100):
                if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0:
                    break
                time.sleep(0.05)
        done = subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
                               "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create: {done.stdout}{done.stderr}")
        deadline = time.monotonic() + 30
        while not all("cluster_state:ok" in cli(port, "cluster", "info") for port in self.ports):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not come up")
            time.sleep(0.1)

    @property
    def ports(self) -> list[int]:
        return [port for port, _ in self.nodes]

    @property
    def url(self) -> str:
        """REDIS_URL for the service: one node, from which the client learns the others."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def keys(self, port: int, pattern: str) -> list[str]:
        """The keys matching `pattern` on one node."""
        return cli(port, "--scan", "--pattern", pattern).split()

    def stop(self) -> None:
        for _, process in self.nodes:
            process.kill()
            process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)
