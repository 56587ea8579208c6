"""A confirmed receipt's links (`receipts.links`): the ledger rows and instrument uses it created, which its
refunds and cancel reverse and `bonus-engine audit` checks (app/points/audit.py reads `coupons` in SQL).

Written and read here only. The stored document is the one confirm has always written: `coupons` and
`burned` only when there are some; the point links only for a receipt that wrote to its account's book,
and then `bonus_lots` and `return_entries` always (empty or not), `redemption_entry` and `accrual_lot` when
there was a redemption or an accrual. A receipt without an account (or of a blocked one) stores `{}` or
its instruments only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class PointLinks:
    """The ledger rows of a receipt that wrote to its account's book."""

    redemption_entry: int | None = None  # the entry that spent the redeemed points
    accrual_lot: int | None = None  # the lot of its accrual
    bonus_lots: tuple[int, ...] = ()  # the lots of its campaigns' bonus grants
    return_entries: tuple[int, ...] = ()  # the entries of its refunds' redemption returns, in order

    @property
    def own_lots(self) -> list[int]:
        """The lots the receipt granted: a reversal takes its points from these first."""
        return ([self.accrual_lot] if self.accrual_lot else []) + list(self.bonus_lots)


_POINT_KEYS = ("redemption_entry", "accrual_lot", "bonus_lots", "return_entries")


@dataclass(frozen=True, slots=True)
class Links:
    """What a receipt's refunds need to find again: its coupon codes (a full refund releases their uses by
    code), the certificates whose rest it burned (a full refund restores it), and its ledger rows."""

    coupons: tuple[str, ...] = ()
    burned: Mapping[str, int] = field(default_factory=dict)  # certificate code → the rest burned
    points: PointLinks | None = None  # None: the receipt wrote nothing to a book

    def with_points(self, points: PointLinks) -> Links:
        return Links(self.coupons, self.burned, points)  # not dataclasses.replace: on every confirm

    def with_return_entry(self, entry_id: int) -> Links:
        """After a refund that gave redeemed points back (only a receipt that redeemed can)."""
        assert self.points is not None and self.points.redemption_entry is not None
        return replace(self, points=replace(self.points, return_entries=(*self.points.return_entries, entry_id)))

    @property
    def redemption_entries(self) -> list[int]:
        """The redemption and its returns so far: whose lot moves a redemption return reads."""
        if self.points is None or self.points.redemption_entry is None:
            return []
        return [self.points.redemption_entry, *self.points.return_entries]

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        if self.coupons:
            document["coupons"] = list(self.coupons)
        if self.burned:
            document["burned"] = dict(self.burned)
        if self.points is not None:
            document["bonus_lots"] = list(self.points.bonus_lots)
            document["return_entries"] = list(self.points.return_entries)
            if self.points.redemption_entry is not None:
                document["redemption_entry"] = self.points.redemption_entry
            if self.points.accrual_lot is not None:
                document["accrual_lot"] = self.points.accrual_lot
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Links:
        points = None
        if any(key in document for key in _POINT_KEYS):
            points = PointLinks(document.get("redemption_entry"), document.get("accrual_lot"),
                                tuple(document.get("bonus_lots", ())), tuple(document.get("return_entries", ())))
        return cls(tuple(document.get("coupons", ())), dict(document.get("burned", {})), points)
