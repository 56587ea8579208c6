"""Points lots: FIFO spending, debt, reversals and returns, as pure moves the service persists.

A move is (lot_id, points): negative takes from a lot, positive puts back; lot_id None is the account's
debt (a negative move on the debt means more debt). Every ledger entry's points equal the sum of its
moves, which is what `bonus-engine audit` checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["Lot", "Move", "balances", "return_points", "settle_debt", "take", "take_for_reversal"]

Move = tuple[int | None, int]
_FAR = datetime.max.replace(tzinfo=None)


@dataclass(slots=True)
class Lot:
    id: int
    remaining: int
    available_at: datetime
    expires_at: datetime | None

    def is_available(self, now: datetime) -> bool:
        return self.available_at <= now and not self.is_expired(now)

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def _utc_naive(moment: datetime) -> datetime:
    """Comparable with `_FAR`: aware times as UTC wall time (lots may carry different offsets)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _expiry_order(lot: Lot) -> tuple[datetime, datetime, int]:
    expires = _utc_naive(lot.expires_at) if lot.expires_at else _FAR
    return expires, _utc_naive(lot.available_at), lot.id


def balances(lots: Iterable[Lot], debt: int, now: datetime) -> tuple[int, int]:
    """(available, pending) now; debt lowers what is available, so available may be negative."""
    available = pending = 0
    for lot in lots:
        if lot.is_expired(now):
            continue
        if lot.available_at <= now:
            available += lot.remaining
        else:
            pending += lot.remaining
    return available - debt, pending


def _take_from(lots: Iterable[Lot], amount: int) -> list[Move]:
    moves: list[Move] = []
    for lot in lots:
        if amount == 0:
            break
        part = min(lot.remaining, amount)
        if part > 0:
            lot.remaining -= part
            amount -= part
            moves.append((lot.id, -part))
    if amount:
        moves.append((None, -amount))
    return moves


def take(lots: Sequence[Lot], amount: int, now: datetime) -> list[Move]:
    """Spend `amount` from available lots, those that expire first first; the rest becomes debt."""
    spendable = sorted((lot for lot in lots if lot.is_available(now)), key=_expiry_order)
    return _take_from(spendable, amount)


def settle_debt(lots: Sequence[Lot], debt: int, now: datetime) -> list[Move]:
    """Pay `debt` back from available lots; the moves sum to zero (lots down, debt down)."""
    if debt <= 0:
        return []
    moves = [move for move in take(lots, debt, now) if move[0] is not None]
    paid = -sum(points for _, points in moves)
    return moves + [(None, paid)] if paid else []


def take_for_reversal(
    lots: Sequence[Lot], own_lot_ids: int | Sequence[int] | None, amount: int, now: datetime
) -> list[Move]:
    """Reverse an accrual: from its own lots first, then the other live lots by expiry, the rest as debt."""
    own_ids = [own_lot_ids] if isinstance(own_lot_ids, int) else list(own_lot_ids or [])
    live = [lot for lot in lots if not lot.is_expired(now)]
    own = [lot for lot_id in own_ids for lot in live if lot.id == lot_id]
    others = sorted((lot for lot in live if lot.id not in own_ids), key=_expiry_order)
    return _take_from(own + others, amount)


def return_points(taken: Sequence[Move], already_returned: Sequence[Move], amount: int) -> list[Move]:
    """Give `amount` back into the lots a redemption took it from, latest-expiring lots first.

    `taken` are the redemption's moves in the order they were taken (earliest expiry first);
    `already_returned` are earlier returns of the same redemption.
    """
    room: dict[int | None, int] = {}
    for lot_id, points in taken:
        room[lot_id] = room.get(lot_id, 0) - points
    for lot_id, points in already_returned:
        room[lot_id] = room.get(lot_id, 0) - points
    moves: list[Move] = []
    for lot_id in reversed(list(room)):
        part = min(room[lot_id], amount)
        if part > 0:
            moves.append((lot_id, part))
            amount -= part
    if amount:
        raise ValueError(f"returning {amount} more points than the redemption took")
    return moves
