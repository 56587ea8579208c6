"""Refunds and cancels: reverse the stored numbers of a confirmed receipt, never re-evaluate.

The receipt row is locked first (found through its claim), then the account row. A confirm holds no row a
refund waits on before the account (its claim and receipt rows are new ones), so the two never deadlock;
concurrent refunds of one receipt queue on the receipt row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from app.accounts import repository as accounts
from app.accounts.view import account_view
from app.core import metrics
from app.core.auth import Principal
from app.core.context import AppContext, utcnow
from app.core.errors import AppError, conflict, not_found
from app.core.idempotency import fingerprint
from app.points.book import Book
from rules import REVERSIBLE, decimal_text, refund_share

from . import instruments, repository
from .result import TOTALS, account_summary
from .schemas import RefundRequest

CANCEL_ID = "~cancel"  # outside the refund_id alphabet, so no client refund can take it


def _wanted(request: RefundRequest, lines: list[dict[str, Any]]) -> dict[str, Decimal]:
    """line_id → quantity to return now; no `lines` means everything that is left."""
    left = {line["line_id"]: Decimal(line["quantity"]) - Decimal(line["returned"]) for line in lines}
    if request.lines is None:
        wanted = {line_id: quantity for line_id, quantity in left.items() if quantity > 0}
        if not wanted:
            raise conflict("refund_exceeds_receipt", "everything on this receipt has been returned already")
        return wanted
    wanted = {}
    for index, line in enumerate(request.lines):
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


def _reverse_lines(lines: list[dict[str, Any]], wanted: dict[str, Decimal]) -> list[dict[str, Any]]:
    """Each returned line's shares; updates the stored lines' returned quantity and refunded figures."""
    shares = []
    for line in lines:
        quantity = wanted.get(line["line_id"])
        if quantity is None:
            continue
        bought, before = Decimal(line["quantity"]), Decimal(line["returned"])
        share = refund_share(line["figures"], line["refunded"], bought, before, quantity)
        # each certificate gets its own share back; the line's certificate figure is their sum
        parts = line.get("certificates", {})
        returned_parts = line.get("refunded_certificates", {})
        by_code = refund_share(parts, returned_parts, bought, before, quantity, names=sorted(parts))
        share["gift_certificates"] = sum(by_code.values())
        line["returned"] = decimal_text(before + quantity)
        line["refunded"] = {name: line["refunded"].get(name, 0) + share[name] for name in REVERSIBLE}
        line["refunded_certificates"] = {code: returned_parts.get(code, 0) + by_code[code] for code in parts}
        shares.append({"line": line, "quantity": quantity, "certificates": by_code, **share})
    return shares


def _element(refund_id: str, store_id: str | None, shares: list[dict[str, Any]], created_at: str) -> dict[str, Any]:
    lines = [
        {
            "line_id": s["line"]["line_id"],
            "quantity": decimal_text(s["quantity"]),
            "amount": s["amount"],
            "discount": s["discount"],
            "points_redeemed": s["points_redeemed"],
            "gift_certificates": s["gift_certificates"],
            "points_accrued": s["accrual_points"] + s["bonus_points"],
        }
        for s in shares
    ]
    totals = {name: sum(line[name] for line in lines) for name in TOTALS if name != "to_pay"}
    totals["to_pay"] = totals["amount"] - totals["discount"] - totals["points_redeemed"] - totals["gift_certificates"]
    return {"refund_id": refund_id, "created_at": created_at, "store_id": store_id, "lines": lines,
            "totals": {name: totals[name] for name in TOTALS}}


async def _reverse_points(conn: asyncpg.Connection, book: Book, links: dict[str, Any], shares: list[dict[str, Any]],
                          receipt_id: str, refund_id: str) -> None:
    fields = {"receipt_id": receipt_id, "refund_id": None if refund_id == CANCEL_ID else refund_id}
    if refund_id == CANCEL_ID:
        fields["reason"] = "cancel"
    reversed_points = sum(s["accrual_points"] + s["bonus_points"] for s in shares)
    if reversed_points:
        own = ([links["accrual_lot"]] if links.get("accrual_lot") else []) + links.get("bonus_lots", [])
        await book.reverse(reversed_points, own, **fields)
        metrics.POINTS.labels("accrual_reversal").inc(reversed_points)
    returned = sum(s["points_redeemed"] for s in shares)
    if returned:
        taken = await repository.entry_moves(conn, book.account_id, [links["redemption_entry"]])
        given_back = await repository.entry_moves(conn, book.account_id, links.get("return_entries", []))
        entry_id = await book.give_back(returned, taken, given_back, **fields)
        links.setdefault("return_entries", []).append(entry_id)
        metrics.POINTS.labels("redemption_return").inc(returned)


async def refund(ctx: AppContext, receipt_id: str, request: RefundRequest | None, principal: Principal
                 ) -> tuple[dict[str, Any], bool]:
    """(response, replayed?); `request` None is a cancel."""
    cancel = request is None
    refund_id = CANCEL_ID if request is None else request.refund_id
    print_ = fingerprint(request) if request is not None else b"cancel"
    program = ctx.programs.current
    now = utcnow()
    snapshot = None
    async with ctx.db.transaction() as conn:
        row = await repository.get(conn, receipt_id, lock=True)
        if row is None or row["status"] == "pending":
            raise not_found("receipt_not_found", "no confirmed receipt with this id")
        if cancel and not principal.is_admin and principal.store_id not in (None, row["store_id"]):
            raise AppError(403, "forbidden", "only the receipt's own store or an admin key may cancel it")
        owner_id = row["owner_id"]
        done = await repository.find_refund(conn, owner_id, receipt_id, refund_id)
        if done is not None:
            if done["fingerprint"] != print_:
                raise conflict("idempotency_conflict", "this refund_id was used with another body")
            metrics.REPLAYS.labels("cancel" if cancel else "refund").inc()
            return dict(done["refund"]), True
        if cancel and row["status"] in ("refunded", "cancelled"):
            return dict(row["result"]), True
        lines = row["lines"]
        wanted = _wanted(request or RefundRequest(refund_id="cancel"), lines)
        shares = _reverse_lines(lines, wanted)
        links = row["links"]
        account = book = None
        version = 0
        if row["account_id"] is not None:
            account = await accounts.lock_by_id(conn, row["account_id"])
            now = utcnow()  # after waiting for the account lock
            book = await Book.open(conn, account["id"], account["debt"], now)
            book.settle()
            await _reverse_points(conn, book, links, shares, receipt_id, refund_id)
            version = await book.flush()
        everything = all(Decimal(line["returned"]) == Decimal(line["quantity"]) for line in lines)
        status = "cancelled" if cancel else ("refunded" if everything else "partially_refunded")
        await instruments.reverse(conn, receipt_id, None if cancel else refund_id, shares, links, everything)
        refunded_purchase = sum(s["amount"] - s["discount"] for s in shares if not s["line"]["sells_certificate"])
        await repository.update_after_refund(conn, owner_id, receipt_id, status=status,
                                             refunded_purchase=refunded_purchase, lines=lines, links=links)
        result = dict(row["result"])
        if account is not None and book is not None:
            current = {**account, "debt": book.debt, "version": version}  # as this transaction left it
            view, changes_at = await account_view(conn, current, program, now, book.live_lots())
            snapshot = (view, version, changes_at)
            result["account"] = account_summary(account["card"], view, result["account"]["tier_applied"])
        element = _element(refund_id, principal.store_id, shares, now.isoformat())
        returned = {line["line_id"]: line["returned"] for line in lines}
        result["status"] = status
        result["lines"] = [{**line, "refunded_quantity": returned[line["line_id"]]} for line in result["lines"]]
        result["refunds"] = [*result.get("refunds", []), element]
        response = {**result, "refund": element}
        await repository.store_result(conn, owner_id, receipt_id, result)
        await repository.insert_refund(conn, owner_id, receipt_id, refund_id, print_, row["account_id"],
                                       principal.store_id, response, refunded_purchase)
    if snapshot is not None:
        await ctx.cache_account(*snapshot)
    metrics.RECEIPTS.labels("cancelled" if cancel else "refunded").inc()
    return response, False
