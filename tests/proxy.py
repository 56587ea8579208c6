"""A small TCP proxy for fault tests: put it between the service and PostgreSQL, then make the database
slow, drop every connection, refuse new ones, and resume.

It runs its own asyncio loop in a background thread and listens on 127.0.0.1 only. The upstream is a
TCP `(host, port)` or a unix socket path (the embedded PostgreSQL listens on a socket only), so
`upstream_of(DATABASE_URL)` finds it and `through(DATABASE_URL, proxy.port)` gives the URL that goes
through the proxy.

    proxy = Proxy(upstream_of(url)).start()
    proxy.latency = 0.2      # every chunk the database sends arrives 200 ms later (order kept)
    proxy.outage()           # a restart: open connections are cut, new ones refused (ECONNREFUSED)
    proxy.resume()           # listening again on the same port; fresh connections work
    proxy.pause()            # a frozen database: connections stay open (new ones too), nothing answers
    proxy.resume()           # and everything held back flows again
    proxy.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Coroutine
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

Upstream = tuple[str, int] | str  # (host, port) or a unix socket path


def upstream_of(database_url: str) -> Upstream:
    """Where a PostgreSQL URL connects: `(host, port)`, or the socket path for `?host=/dir` URLs."""
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query))
    host = query.get("host") or unquote(parts.hostname or "") or "127.0.0.1"
    port = int(query.get("port") or parts.port or 5432)
    if host.startswith("/"):
        return os.path.join(host, f".s.PGSQL.{port}")
    return (host, port)


def through(database_url: str, port: int) -> str:
    """The same database and user, reached over TCP at 127.0.0.1:`port` (the proxy)."""
    parts = urlsplit(database_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("host", "port")]
    user = parts.netloc.rpartition("@")[0]
    netloc = (user + "@" if user else "") + f"127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))


class Proxy:
    def __init__(self, upstream: Upstream):
        self.upstream = upstream
        self.latency = 0.0  # seconds added to every chunk from the upstream (a slow database)
        self.port = 0
        self.accepted = 0  # connections accepted, all time
        self.dropped = 0  # connections cut by drop()/outage()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._waiting: set[asyncio.StreamWriter] = set()  # accepted while paused
        self._flowing = asyncio.Event()
        self._flowing.set()

    # --- control, from any thread ---------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> Proxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def drop(self) -> int:
        """Cut every open connection (both sides, at once); returns how many."""
        return int(self._call(self._drop()))

    def refuse(self) -> None:
        """Stop listening: new connections are refused until resume()."""
        self._call(self._close_listener())

    def outage(self) -> int:
        """What a database restart looks like to clients: refuse new connections and cut the open ones."""
        self.refuse()
        return self.drop()

    def pause(self) -> None:
        """Freeze: connections are accepted and kept, but no byte goes either way until resume()."""
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def resume(self) -> None:
        """Listen again on the same port and let data flow (latency is left as it is)."""
        self._call(self._listen())
        self._loop.call_soon_threadsafe(self._flowing.set)

    @property
    def open_connections(self) -> int:
        return len(self._links)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self.outage()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- inside the proxy's loop ----------------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            # the same port again after an outage (SO_REUSEADDR is on by default on Unix)
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _drop(self) -> int:
        links = list(self._links)
        for waiting in list(self._waiting):
            waiting.transport.abort()
        for client, upstream in links:
            client.transport.abort()
            upstream.transport.abort()
        self._links.clear()
        self.dropped += len(links)
        return len(links)

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._waiting.add(client_writer)
        try:
            await self._flowing.wait()
        finally:
            self._waiting.discard(client_writer)
        if client_writer.transport.is_closing():
            return
        try:
            if isinstance(self.upstream, str):
                up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
            else:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        link = (client_writer, up_writer)
        self._links.add(link)
        pipes = [
            asyncio.ensure_future(self._pipe(client_reader, up_writer, delayed=False)),
            asyncio.ensure_future(self._pipe(up_reader, client_writer, delayed=True)),
        ]
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            self._links.discard(link)
            client_writer.transport.abort()
            up_writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delayed: bool) -> None:
        """Copy one direction; with latency, each chunk is delivered `latency` after it arrived, in order,
        so a slow link delays every answer without serializing the round trips of other connections."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def deliver() -> None:
            while (item := await queue.get()) is not None:
                due, data = item
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while not sender.done():
                data = await reader.read(65536)
                if not data:
                    break
                queue.put_nowait((loop.time() + (self.latency if delayed else 0.0), data))
            queue.put_nowait(None)
            await sender
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender
