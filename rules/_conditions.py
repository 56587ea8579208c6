"""When a campaign applies: its active period, its `when` conditions and its `items` scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ._program import CampaignBase, Items, When
from ._receipt import Line

__all__ = ["Context", "LineScopes", "applies", "in_scope", "not_active_reason", "when_holds"]


@dataclass(frozen=True, slots=True)
class Context:
    """The receipt facts conditions look at; `at` keeps the receipt's own offset."""

    at: datetime
    channel: str
    store_id: str
    tier: str | None
    segment: str


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
    if when.segments is not None and ctx.segment not in when.segments:
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


class LineScopes:
    """`in_scope` of each line of one receipt, per `items`, worked out once per distinct (sku, category).

    Every stage of an evaluation asks for the scopes of its campaigns, and a receipt repeats skus; whether
    a line is in scope depends only on its sku and category. Items are remembered by identity: they
    belong to the program's campaigns, which outlive the evaluation.
    """

    def __init__(self, lines: Sequence[Line]) -> None:
        kinds: dict[tuple[str, str | None], int] = {}
        self._samples: list[Line] = []  # one line of each kind
        self._kind: list[int] = []  # each line's kind
        for line in lines:
            key = (line.sku, line.category)
            if key not in kinds:
                kinds[key] = len(self._samples)
                self._samples.append(line)
            self._kind.append(kinds[key])
        self._everywhere = (True,) * len(lines)
        self._known: dict[int, tuple[bool, ...]] = {}

    def of(self, items: Items | None) -> tuple[bool, ...]:
        if items is None:
            return self._everywhere
        known = self._known.get(id(items))
        if known is None:
            inside = [in_scope(items, line) for line in self._samples]
            known = self._known[id(items)] = tuple(inside[kind] for kind in self._kind)
        return known
