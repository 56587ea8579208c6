"""Coupons and gift certificates on a receipt: the facts the engine needs, and what confirm and
refunds write back. Confirm locks them after the account (`lock`): shared coupon codes, single-use coupon
codes, then certificates, each in code order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from app.certificates import repository as certificates
from app.certificates.service import fact as certificate_fact
from app.core.errors import conflict
from app.coupons import repository as coupons
from rules import CompiledProgram, CouponFact, Outcome, Receipt, ReceiptFacts

from .lines import Share
from .links import Links


def _certificate_codes(receipt: Receipt) -> list[str]:
    sold = [line.gift_certificate for line in receipt.lines if line.gift_certificate]
    return sorted({p.code for p in receipt.gift_certificates} | set(sold))


async def lock(conn: asyncpg.Connection, receipts: Sequence[Receipt], program: CompiledProgram) -> None:
    """Lock every code on these receipts until commit, in the one order every transaction takes: shared
    coupon codes, then single-use coupon codes, then certificates, each by code. Racing receipts queue for
    the last use or the last balance (the loser sees what is left)."""
    codes = sorted({code for receipt in receipts for code in receipt.coupons})
    shared = [code for code in codes if code in program.shared_codes]
    if shared:
        await coupons.lock_shared(conn, shared)
    single = [code for code in codes if code not in program.shared_codes]
    if single:
        await coupons.lock_codes(conn, single)
    certificate_codes = sorted({code for receipt in receipts for code in _certificate_codes(receipt)})
    if certificate_codes:
        await certificates.lock_many(conn, certificate_codes)


async def gather(conn: asyncpg.Connection, receipt: Receipt, program: CompiledProgram, account_id: int | None,
                 now: datetime) -> ReceiptFacts:
    """Facts for evaluation: a confirm reads them after `lock`, so they hold until commit."""
    coupon_facts: dict[str, CouponFact] = {}
    for code in sorted(receipt.coupons):
        shared = program.shared_codes.get(code)
        if shared is not None:
            uses, account_uses = await coupons.live_uses(conn, code, account_id)
            coupon_facts[code] = CouponFact(shared.id, uses=uses, account_uses=account_uses)
            continue
        row = await coupons.find_code(conn, code)
        if row is not None:
            uses, _ = await coupons.live_uses(conn, code, account_id)
            coupon_facts[code] = CouponFact(row["campaign_id"], used=uses > 0)
    codes = _certificate_codes(receipt)
    rows = await certificates.read_many(conn, codes) if codes else {}
    for line in receipt.lines:
        row = rows.get(line.gift_certificate) if line.gift_certificate else None
        if line.gift_certificate and (row is None or row["status"] != "issued"):
            raise conflict("gift_certificate_not_sellable",
                           f"certificate on line {line.line_id!r} is not in status issued")
    certificate_facts = {code: certificate_fact(row, now) for code, row in rows.items()}
    return ReceiptFacts(coupons=coupon_facts, certificates=certificate_facts)


async def apply(conn: asyncpg.Connection, receipt: Receipt, outcome: Outcome, account_id: int | None) -> Links:
    """Record coupon uses, charge and burn certificates, activate sold ones; returns links for refunds
    (the codes used, so that a full refund finds the uses by code)."""
    used = []
    for verdict in outcome.coupons:
        if verdict.status == "applied" and verdict.campaign_id is not None:
            await coupons.record_use(conn, verdict.code, verdict.campaign_id, account_id, receipt.receipt_id)
            used.append(verdict.code)
    burned: dict[str, int] = {}
    for charge in outcome.certificates:
        if charge.status != "applied":
            continue
        if charge.charged:
            await certificates.move(conn, charge.code, "payment", -charge.charged, receipt_id=receipt.receipt_id)
        if charge.burned:
            await certificates.move(conn, charge.code, "burn", -charge.burned, receipt_id=receipt.receipt_id)
            burned[charge.code] = charge.burned
    for line in receipt.lines:
        if line.gift_certificate:
            await certificates.move(conn, line.gift_certificate, "sale", line.amount, status="active",
                                    receipt_id=receipt.receipt_id, sold_receipt_id=receipt.receipt_id)
    return Links(tuple(sorted(used)), burned)


def unknown_codes(outcome: Outcome) -> int:
    """Unknown certificate codes count against the key's failed look-up limit, as look-ups do."""
    return sum(1 for charge in outcome.certificates if charge.reason == "unknown")


async def reverse(conn: asyncpg.Connection, receipt_id: str, refund_id: str | None,
                  shares: list[Share], links: Links, everything: bool) -> None:
    """Give certificates back their share, void sold ones returned unused, and when the receipt is
    refunded or cancelled in full, release coupon uses and restore single-use rests. The certificates are
    locked first, in code order, as confirm locks them."""
    touched = {code for share in shares for code, amount in share.certificates.items() if amount}
    touched |= {share.line.gift_certificate for share in shares
                if share.line.gift_certificate and share.figures["amount"]}
    if everything:
        touched |= set(links.burned)
    if touched:
        await certificates.lock_many(conn, sorted(touched))
    for share in shares:
        for code, amount in share.certificates.items():
            if amount:
                await certificates.move(conn, code, "refund", amount, receipt_id=receipt_id, refund_id=refund_id)
        sold = share.line.gift_certificate
        if sold and share.figures["amount"]:
            row = (await certificates.lock_many(conn, [sold]))[sold]
            if row["status"] != "active" or await certificates.has_payments(conn, sold):
                raise conflict("gift_certificate_used", f"certificate {sold} has been spent and cannot be returned")
            await certificates.move(conn, sold, "void", -row["balance"], status="void", receipt_id=receipt_id,
                                    refund_id=refund_id)
    if everything:
        await coupons.release_uses(conn, receipt_id, list(links.coupons))
        for code, amount in links.burned.items():
            await certificates.move(conn, code, "restore", amount, receipt_id=receipt_id, refund_id=refund_id)
