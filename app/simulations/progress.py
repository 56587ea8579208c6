"""The progress line of a long simulation on stderr (`bonus-engine simulate --progress`)."""

from __future__ import annotations

import time
from typing import TextIO


class Progress:
    """A plain-text progress line on stderr: every 1 % of the file or every 2 s, whichever comes first."""

    def __init__(self, total_bytes: int, enabled: bool, stream: TextIO) -> None:
        self.total = max(total_bytes, 1)
        self.enabled = enabled
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.next_percent = 1
        self.next_time = self.started + 2.0
        self.last: tuple[int, int] | None = None  # (percent, receipts) shown last

    def update(self, done: int, receipts: int) -> None:
        if not self.enabled:
            return
        percent = done * 100 // self.total
        now = time.monotonic()
        if percent < self.next_percent and now < self.next_time:
            return
        self.next_percent = percent + 1
        self.next_time = now + 2.0
        self._show(percent, receipts, now)

    def finish(self, receipts: int) -> None:
        if self.enabled:
            if self.last != (100, receipts):
                self._show(100, receipts, time.monotonic())
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()

    def _show(self, percent: int, receipts: int, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        bar = "#" * (percent // 5) + "." * (20 - percent // 5)
        text = f"simulate [{bar}] {percent:3d}%  {receipts:,} receipts  {receipts / elapsed:,.0f}/s  {elapsed:.1f}s"
        self.stream.write(f"\r{text}" if self.tty else f"{text}\n")
        self.stream.flush()
        self.last = (percent, receipts)
