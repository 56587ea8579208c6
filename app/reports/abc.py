"""ABC analysis: rank keys by a measure and class them A, B or C by the cumulative share before each one.

Pure: integers in, dicts out. The classes are decided on exact integers (money in minor units, receipts,
quantities in thousandths), never on the rounded shares shown: a key is A when the keys ranked above it hold
less than 80 % of the total, B when they hold less than 95 %, C otherwise. So the key that crosses 80 % is
still A, and a key whose predecessors hold exactly 80 % is B.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

CLASSES = (("A", 80), ("B", 95))  # (class, the cumulative percent before a key below which it gets it)
LAST_CLASS = "C"


@dataclass(frozen=True, slots=True)
class Ranked:
    key: str | None  # None: the lines that carry no such key
    value: int
    share: float | None
    cumulative_share: float | None
    klass: str


def ratio(part: int, whole: int) -> float | None:
    """A share for people to read, 4 decimal places as every report's shares; None of nothing."""
    return round(part / whole, 4) if whole else None


def class_of(before: int, total: int) -> str:
    """The class of a key when the keys ranked above it hold `before` of `total` (compared in integers)."""
    for name, percent in CLASSES:
        if before * 100 < percent * total:
            return name
    return LAST_CLASS


def rank(values: Iterable[tuple[str | None, int]]) -> list[Ranked]:
    """Keys by value descending, ties by key (code points; no key first), each with its class."""
    ordered = sorted(values, key=lambda item: (-item[1], item[0] or ""))
    total = sum(value for _, value in ordered)
    ranked, before = [], 0
    for key, value in ordered:
        ranked.append(Ranked(key, value, ratio(value, total), ratio(before + value, total), class_of(before, total)))
        before += value
    return ranked


def summary(ranked: Sequence[Ranked], shown: Callable[[int], Any]) -> list[dict[str, Any]]:
    """Per class, A to C: its keys, their value (as `shown`) and share of the total."""
    total = sum(row.value for row in ranked)
    out = []
    for name in [*(name for name, _ in CLASSES), LAST_CLASS]:
        value = sum(row.value for row in ranked if row.klass == name)
        out.append({"class": name, "keys": sum(row.klass == name for row in ranked), "value": shown(value),
                    "share": ratio(value, total)})
    return out
