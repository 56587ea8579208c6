"""Refunds and cancels: reverse the stored numbers of a confirmed receipt, never re-evaluate.

The receipt row is locked first (found through its claim), then the account row. A confirm holds no row a
refund waits on before the account (its claim and receipt rows are new ones), so the two never deadlock;
concurrent refunds of one receipt queue on the receipt row.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.accounts import repository as accounts
from app.accounts.view import Purchase, view_of, with_purchase
from app.accounts.write import AccountWrite
from app.core import metrics
from app.core.auth import Principal
from app.core.context import AppContext
from app.core.errors import AppError, conflict, not_found
from app.core.idempotency import fingerprint
from app.points.book import Book
from app.points.ids import Ids
from rules import REVERSIBLE, decimal_text, refund_share

from . import instruments, repository
from .lines import Share, StoredLine
from .links import Links
from .result import TOTALS, account_summary
from .schemas import RefundLine, RefundRequest

CANCEL_ID = "~cancel"  # outside the refund_id alphabet, so no client refund can take it
_REFUND_ENTRIES = 2  # a refund writes at most an accrual reversal and a redemption return


def _wanted(requested: list[RefundLine] | None, lines: list[StoredLine]) -> dict[str, Decimal]:
    """line_id → quantity to return now; no `requested` lines means everything that is left."""
    left = {line.line_id: line.left for line in lines}
    if requested is None:
        wanted = {line_id: quantity for line_id, quantity in left.items() if quantity > 0}
        if not wanted:
            raise conflict("refund_exceeds_receipt", "everything on this receipt has been returned already")
        return wanted
    wanted = {}
    for index, line in enumerate(requested):
        if line.line_id not in left:
            raise AppError(422, "line_not_found", f"line {line.line_id!r} is not on this receipt",
                           errors=[{"path": f"lines[{index}].line_id", "message": "not on this receipt"}])
        if line.line_id in wanted:
            raise AppError(422, "validation_error", "a line is named twice",
                           errors=[{"path": f"lines[{index}].line_id", "message": "named twice"}])
        if line.quantity > left[line.line_id]:
            raise conflict("refund_exceeds_receipt",
                           f"line {line.line_id!r} has {left[line.line_id]} left, not {line.quantity}")
        wanted[line.line_id] = line.quantity
    return wanted


def _reverse_lines(lines: list[StoredLine], wanted: dict[str, Decimal]) -> list[Share]:
    """Each returned line's shares; updates the stored lines' returned quantity and refunded figures."""
    shares = []
    for line in lines:
        quantity = wanted.get(line.line_id)
        if quantity is None:
            continue
        bought, before = Decimal(line.quantity), Decimal(line.returned)
        share = refund_share(line.figures, line.refunded, bought, before, quantity)
        # each certificate gets its own share back; the line's certificate figure is their sum
        parts, returned_parts = line.certificates, line.refunded_certificates
        by_code = refund_share(parts, returned_parts, bought, before, quantity, names=sorted(parts))
        share["gift_certificates"] = sum(by_code.values())
        line.returned = decimal_text(before + quantity)
        line.refunded = {name: line.refunded.get(name, 0) + share[name] for name in REVERSIBLE}
        line.refunded_certificates = {code: returned_parts.get(code, 0) + by_code[code] for code in parts}
        shares.append(Share(line, quantity, share, by_code))
    return shares


def _element(refund_id: str, store_id: str | None, shares: list[Share], created_at: str) -> dict[str, Any]:
    lines: list[dict[str, Any]] = [
        {
            "line_id": s.line.line_id,
            "quantity": decimal_text(s.quantity),
            "amount": s.figures["amount"],
            "discount": s.figures["discount"],
            "points_redeemed": s.figures["points_redeemed"],
            "gift_certificates": s.figures["gift_certificates"],
            "points_accrued": s.points,
        }
        for s in shares
    ]
    totals = {name: sum(line[name] for line in lines) for name in TOTALS if name != "to_pay"}
    totals["to_pay"] = totals["amount"] - totals["discount"] - totals["points_redeemed"] - totals["gift_certificates"]
    return {"refund_id": refund_id, "created_at": created_at, "store_id": store_id, "lines": lines,
            "totals": {name: totals[name] for name in TOTALS}}


@dataclass(frozen=True, slots=True)
class _Return:
    """What a refund or the cancel takes back: the lines and quantities (None: everything that is left),
    under which id and request fingerprint it is stored."""

    refund_id: str
    fingerprint: bytes
    lines: list[RefundLine] | None

    @property
    def cancel(self) -> bool:
        return self.refund_id == CANCEL_ID


_CANCEL = _Return(CANCEL_ID, b"cancel", None)


async def refund(ctx: AppContext, receipt_id: str, request: RefundRequest, principal: Principal
                 ) -> tuple[dict[str, Any], bool]:
    """(response, replayed?): the request's lines come back (all that is left without lines)."""
    return await _take_back(ctx, receipt_id, _Return(request.refund_id, fingerprint(request), request.lines),
                            principal)


async def cancel(ctx: AppContext, receipt_id: str, principal: Principal) -> tuple[dict[str, Any], bool]:
    """(response, replayed?): everything left on the receipt comes back and it is `cancelled`; only its own
    store or an admin key may. A cancel of a refunded or cancelled receipt answers its stored result."""
    return await _take_back(ctx, receipt_id, _CANCEL, principal)


async def _reverse_points(book: Book, links: Links, shares: list[Share], moves: list[Any],
                          receipt_id: str, back: _Return) -> Links:
    """`moves`: (entry_id, lot_id, points) of the receipt's redemption and its earlier returns; returns the
    links with the redemption return's entry."""
    fields = {"receipt_id": receipt_id, "refund_id": None if back.cancel else back.refund_id}
    if back.cancel:
        fields["reason"] = "cancel"
    reversed_points = sum(s.points for s in shares)
    if reversed_points:
        await book.reverse(reversed_points, links.points.own_lots if links.points else [], **fields)
        metrics.POINTS.labels("accrual_reversal").inc(reversed_points)
    returned = sum(s.figures["points_redeemed"] for s in shares)
    if returned:
        redemption = links.redemption_entries[0]
        taken = [(lot_id, points) for entry_id, lot_id, points in moves if entry_id == redemption]
        given_back = [(lot_id, points) for entry_id, lot_id, points in moves if entry_id != redemption]
        links = links.with_return_entry(await book.give_back(returned, taken, given_back, **fields))
        metrics.POINTS.labels("redemption_return").inc(returned)
    return links


async def _take_back(ctx: AppContext, receipt_id: str, back: _Return, principal: Principal
                     ) -> tuple[dict[str, Any], bool]:
    """A refund or the cancel.

    Statements: the receipt locked; its account locked with the refund looked up; the account's lots,
    moves and purchase facts with ledger ids reserved; the ledger, the receipt and the refund written in
    one (certificates add their own, in code order, before that)."""
    refund_id, print_ = back.refund_id, back.fingerprint
    kind = "cancel" if back.cancel else "refund"
    async with AccountWrite.begin(ctx, generic_plans=True) as write:
        conn, program = write.conn, write.program
        window_days = program.program.tiers.window_days
        row = await repository.get(conn, receipt_id, lock=True)
        if row is None or row["status"] == "pending":
            raise not_found("receipt_not_found", "no confirmed receipt with this id")
        if back.cancel and not principal.is_admin and principal.store_id not in (None, row["store_id"]):
            raise AppError(403, "forbidden", "only the receipt's own store or an admin key may cancel it")
        owner_id = row["owner_id"]
        account = None
        if row["account_id"] is not None:
            account, done = await repository.lock_account_finding_refund(conn, row["account_id"], receipt_id,
                                                                         refund_id)
        else:
            done = await repository.find_refund(conn, owner_id, receipt_id, refund_id)
        if done is not None:
            if done["fingerprint"] != print_:
                raise conflict("idempotency_conflict", "this refund_id was used with another body")
            metrics.REPLAYS.labels(kind).inc()
            return dict(done["refund"]), True
        if back.cancel and row["status"] in ("refunded", "cancelled"):
            return dict(row["result"]), True
        now = write.locked()
        lines = [StoredLine.from_json(line) for line in row["lines"]]
        shares = _reverse_lines(lines, _wanted(back.lines, lines))
        links = Links.from_json(row["links"])
        book = None
        if account is not None:
            returns = any(s.figures["points_redeemed"] for s in shares)
            state = await accounts.refund_state(conn, account.id, receipt_id, now, window_days,
                                                links.redemption_entries if returns else [], _REFUND_ENTRIES)
            ids = Ids(conn)
            ids.add(state.entry_ids, [])
            book = await write.open(account, state.lots, ids)
            book.know(state.moved_lots)
            links = await _reverse_points(book, links, shares, state.moves, receipt_id, back)
        everything = all(line.left == 0 for line in lines)
        status = "cancelled" if back.cancel else ("refunded" if everything else "partially_refunded")
        await instruments.reverse(conn, receipt_id, None if back.cancel else refund_id, shares, links, everything)
        refunded_purchase = sum(s.figures["amount"] - s.figures["discount"] for s in shares
                                if not s.line.sells_certificate)
        result = dict(row["result"])
        if account is not None and book is not None:
            facts = state.facts  # the receipt's own purchase is counted below, as this refund leaves it
            if status == "partially_refunded":
                left = row["purchase_amount"] - row["refunded_purchase"] - refunded_purchase
                facts = with_purchase(facts, Purchase(row["issued_at"], left), now, window_days)
            view, changes_at = view_of(write.written(account), program, now, book.live_lots(), facts)
            write.keep(account.id, view, changes_at)
            result["account"] = account_summary(account.card, view, result["account"]["tier_applied"])
        element = _element(refund_id, principal.store_id, shares, now.isoformat())
        returned = {line.line_id: line.returned for line in lines}
        result["status"] = status
        result["lines"] = [{**line, "refunded_quantity": returned[line["line_id"]]} for line in result["lines"]]
        result["refunds"] = [*result.get("refunds", []), element]
        response = {**result, "refund": element}
        await write.flush(lambda first: repository.refunded_ctes(
            owner_id, receipt_id, status=status, refunded_purchase=refunded_purchase,
            lines=[line.to_json() for line in lines], links=links.to_json(),
            result=result, refund_id=refund_id, fingerprint=print_, account_id=row["account_id"],
            store_id=principal.store_id, response=response, first=first))
    metrics.RECEIPTS.labels("cancelled" if back.cancel else "refunded").inc()
    return response, False
