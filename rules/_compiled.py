"""A program compiled once per version: campaigns sorted and indexed by sku and category.

Evaluation asks the index for the campaigns that can touch a receipt's lines, so its cost grows with
the lines of the receipt, not with the number of campaigns in the program.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ._conditions import ScopeMemo
from ._program import Bonus, Campaign, CampaignBase, Coupon, Program
from ._receipt import Line, category_prefixes

__all__ = ["CompiledProgram", "compile_program", "fraction"]


@lru_cache(maxsize=4096)
def fraction(value: Any) -> Fraction:
    """Decimal percents and multipliers as exact fractions.

    Cached: the engine converts the same few percents of a program for every line of every receipt, and
    building a Fraction from a Decimal costs ten times a cache hit. Equal decimals (`5`, `5.00`) share an
    entry, which is right since they are the same fraction.
    """
    return Fraction(value)


def _order(campaign: CampaignBase) -> tuple[int, str]:
    return campaign.priority, campaign.id


@dataclass(frozen=True)
class _Index:
    """Campaigns without a positive item filter, and those indexed by sku/category."""

    everywhere: tuple[Campaign, ...]
    by_sku: dict[str, tuple[Campaign, ...]]
    by_category: dict[str, tuple[Campaign, ...]]

    @classmethod
    def build(cls, campaigns: Iterable[Campaign]) -> _Index:
        everywhere: list[Campaign] = []
        by_sku: dict[str, list[Campaign]] = defaultdict(list)
        by_category: dict[str, list[Campaign]] = defaultdict(list)
        for campaign in campaigns:
            items = campaign.items
            if items is None or (items.skus is None and items.categories is None):
                everywhere.append(campaign)
                continue
            for sku in items.skus or []:
                by_sku[sku].append(campaign)
            for category in items.categories or []:
                by_category[category].append(campaign)
        return cls(
            tuple(everywhere),
            {k: tuple(v) for k, v in by_sku.items()},
            {k: tuple(v) for k, v in by_category.items()},
        )

    def touches(self, lines: Sequence[Line]) -> bool:
        """Whether `candidates(lines)` would find any campaign."""
        if self.everywhere:
            return True
        by_sku, by_category = self.by_sku, self.by_category
        return any(line.sku in by_sku or (line.category and any(
            prefix in by_category for prefix in category_prefixes(line.category))) for line in lines)

    def candidates(self, lines: Sequence[Line]) -> list[Campaign]:
        found: dict[str, Campaign] = {c.id: c for c in self.everywhere}
        # Receipts repeat skus and categories: look each distinct one up once.
        for sku in {line.sku for line in lines}:
            for campaign in self.by_sku.get(sku, ()):
                found[campaign.id] = campaign
        for category in {line.category for line in lines if line.category}:
            for prefix in category_prefixes(category):
                for campaign in self.by_category.get(prefix, ()):
                    found[campaign.id] = campaign
        return sorted(found.values(), key=_order)


@dataclass(frozen=True)
class CompiledProgram:
    version: int
    program: Program
    _index: _Index = field(repr=False)  # the campaigns of every type but registration and birthday bonuses
    registration_bonuses: tuple[Bonus, ...] = ()
    birthday_bonuses: tuple[Bonus, ...] = ()  # granted by the sweep (app/customers/birthdays.py), not receipts
    by_id: dict[str, Campaign] = field(default_factory=dict, repr=False)
    shared_codes: dict[str, Coupon] = field(default_factory=dict, repr=False)
    scope_memo: ScopeMemo = field(default_factory=ScopeMemo, repr=False, compare=False)  # evaluate's, not state
    holdouts: frozenset[str] = frozenset()  # the campaigns with a control group (control_percent > 0)

    def candidates(self, campaign_type: str, lines: Sequence[Line]) -> list[Campaign]:
        """Campaigns of `campaign_type` that may touch these lines, in priority order (ties by id)."""
        return self.candidates_by_type(lines).get(campaign_type, [])

    def candidates_by_type(self, lines: Sequence[Line]) -> dict[str, list[Campaign]]:
        """The candidates of every type from one look-up of the lines: evaluate needs five types, and one
        pass over the lines costs what a pass for a single type does."""
        by_type: dict[str, list[Campaign]] = {}
        for campaign in self._index.candidates(lines):
            by_type.setdefault(campaign.type, []).append(campaign)
        return by_type

    def may_touch(self, campaign_ids: Collection[str]) -> Callable[[Sequence[Line]], bool]:
        """Whether any of these campaigns may touch some lines on a receipt: a test as cheap as the index of
        those campaigns alone (a simulation asks it of every receipt, app/simulations/runs.py). Bonuses
        granted at registration or on birthdays touch no receipt."""
        wanted = set(campaign_ids)
        index = _Index.build(c for c in _on_receipts(self.program.campaigns) if c.id in wanted)
        return index.touches

    def campaign_name(self, campaign_id: str) -> str:
        campaign = self.by_id.get(campaign_id)
        return campaign.name if campaign is not None else campaign_id

    def coupon(self, code: str, campaign_id: str | None) -> Coupon | None:
        """The coupon campaign of a code: a shared code of the program, or a batch code's campaign."""
        shared = self.shared_codes.get(code)
        if shared is not None:
            return shared
        campaign = self.by_id.get(campaign_id) if campaign_id else None
        return campaign if isinstance(campaign, Coupon) and campaign.code is None else None


def _on_receipts(campaigns: Iterable[Campaign]) -> list[Campaign]:
    """The campaigns a receipt's evaluation may apply: all but registration and birthday bonuses."""
    return [c for c in campaigns if not isinstance(c, Bonus) or c.trigger == "receipt"]


def compile_program(program: Program, version: int) -> CompiledProgram:
    ordered = sorted(program.campaigns, key=_order)
    indexed = _on_receipts(ordered)
    registration = [c for c in ordered if isinstance(c, Bonus) and c.trigger == "registration"]
    birthday = [c for c in ordered if isinstance(c, Bonus) and c.trigger == "birthday"]
    by_id = {campaign.id: campaign for campaign in program.campaigns}
    shared = {c.code: c for c in program.campaigns if isinstance(c, Coupon) and c.code is not None}
    holdouts = frozenset(c.id for c in indexed if c.control_percent)
    return CompiledProgram(version, program, _Index.build(indexed), tuple(registration), tuple(birthday), by_id,
                           shared, holdouts=holdouts)
