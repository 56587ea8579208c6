"""When a campaign applies: its active period, its `when` conditions and its `items` scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

from ._program import CampaignBase, Items, When
from ._receipt import Line

__all__ = ["Context", "LineScopes", "ScopeMemo", "applies", "in_scope", "not_active_reason", "when_holds"]


@dataclass(frozen=True, slots=True)
class Context:
    """The receipt facts conditions look at; `at` keeps the receipt's own offset."""

    at: datetime
    channel: str
    store_id: str
    tier: str | None
    segment: str
    segments: frozenset[str] = frozenset()  # custom segments (AccountState.segments)


def not_active_reason(campaign: CampaignBase, at: datetime) -> str | None:
    """`not_started` or `expired` when `at` is outside the campaign's [from, to); None inside it."""
    active = campaign.active
    if active is not None:
        if active.from_ is not None and at < active.from_:
            return "not_started"
        if active.to is not None and at >= active.to:
            return "expired"
    return None


def when_holds(when: When | None, ctx: Context) -> bool:
    if when is None:
        return True
    if when.channels is not None and ctx.channel not in when.channels:
        return False
    if when.stores is not None and ctx.store_id not in when.stores:
        return False
    if when.tiers is not None and ctx.tier not in when.tiers:
        return False
    if when.segments is not None and ctx.segment not in when.segments and ctx.segments.isdisjoint(when.segments):
        return False
    if when.weekdays is not None and ctx.at.isoweekday() not in when.weekdays:
        return False
    hours = when.hours_range()
    if hours is not None:
        start, end = hours
        local = ctx.at.timetz().replace(tzinfo=None)
        if end is None:
            return local >= start
        return start <= local < end if start < end else (local >= start or local < end)
    return True


def applies(campaign: CampaignBase, ctx: Context) -> bool:
    return not_active_reason(campaign, ctx.at) is None and when_holds(campaign.when, ctx)


def in_scope(items: Items | None, line: Line) -> bool:
    """Whether a line is in a campaign's `items`: in its categories or skus (either), minus exclusions."""
    if items is None:
        return True
    sets = items.sets
    if line.sku in sets.exclude_skus:
        return False
    prefixes = line.category_prefixes
    if sets.exclude_categories and not sets.exclude_categories.isdisjoint(prefixes):
        return False
    if not sets.filters:
        return True
    return line.sku in sets.skus or not sets.categories.isdisjoint(prefixes)


class ScopeMemo:
    """`in_scope` answers kept across receipts, by items (by identity: they belong to the program's
    campaigns, and the memo lives as long as the compiled program) and (sku, category). A chain sells the
    same skus all day, so most receipts find every answer here; past `limit` answers it starts again."""

    def __init__(self, limit: int = 200_000) -> None:
        self._by_items: dict[int, dict[tuple[str, str | None], bool]] = {}
        self._size = 0
        self._limit = limit

    def answers(self, items: Items, kinds: Sequence[tuple[str, str | None]], samples: Sequence[Line]) -> list[bool]:
        known = self._by_items.get(id(items))
        if known is None:
            known = self._by_items[id(items)] = {}
        answers = []
        for kind, line in zip(kinds, samples, strict=True):
            inside = known.get(kind)
            if inside is None:
                if self._size >= self._limit:
                    self._by_items.clear()
                    self._size = 0
                    known = self._by_items[id(items)] = {}
                inside = known[kind] = in_scope(items, line)
                self._size += 1
            answers.append(inside)
        return answers


class LineScopes:
    """`in_scope` of each line of one receipt, per `items`, worked out once per distinct (sku, category).

    Every stage of an evaluation asks for the scopes of its campaigns, and a receipt repeats skus; whether
    a line is in scope depends only on its sku and category. Items are remembered by identity: they
    belong to the program's campaigns, which outlive the evaluation. With a `memo`, answers are shared
    across receipts too.
    """

    def __init__(self, lines: Sequence[Line], memo: ScopeMemo | None = None) -> None:
        kinds: dict[tuple[str, str | None], int] = {}
        self._samples: list[Line] = []  # one line of each kind
        self._kind: list[int] = []  # each line's kind
        for line in lines:
            key = (line.sku, line.category)
            if key not in kinds:
                kinds[key] = len(self._samples)
                self._samples.append(line)
            self._kind.append(kinds[key])
        self._kinds = list(kinds)  # (sku, category) of each sample
        self._memo = memo
        self._everywhere = (True,) * len(lines)
        self._known: dict[int, tuple[bool, ...]] = {}
        # each line's entry of a per-kind list, in one C call (itemgetter of one index gives no tuple)
        self._pick = itemgetter(*self._kind) if len(self._kind) > 1 else lambda inside: tuple(inside[:1])

    def of(self, items: Items | None) -> tuple[bool, ...]:
        if items is None:
            return self._everywhere
        known = self._known.get(id(items))
        if known is None:
            inside = (self._memo.answers(items, self._kinds, self._samples) if self._memo is not None
                      else [in_scope(items, line) for line in self._samples])
            known = self._known[id(items)] = self._pick(inside)
        return known
