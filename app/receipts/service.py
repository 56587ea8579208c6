"""Receipt use cases: calculate, confirm, get. One confirm is one transaction:

claim the receipt id (the idempotency guard) → lock the account → evaluate with fresh state →
write ledger, lots and moves → write the receipt with its result under its owner → commit → refresh the
cached account snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from app.accounts import repository as accounts
from app.accounts.repository import AccountRow
from app.accounts.service import create as create_account
from app.accounts.view import Purchase, view_of
from app.accounts.write import AccountWrite
from app.core import metrics
from app.core.auth import Principal
from app.core.context import AppContext, utcnow
from app.core.errors import AppError, conflict, not_found
from app.core.idempotency import fingerprint
from app.points.book import Book
from rules import NO_ACCOUNT, AccountState, CompiledProgram, Outcome, Receipt, balances, evaluate

from . import instruments, repository
from .lines import stored_lines
from .links import Links, PointLinks
from .result import account_summary, build

FUTURE_TOLERANCE = timedelta(minutes=5)


def check_time(receipt: Receipt, program: CompiledProgram, now: datetime) -> None:
    if receipt.issued_at > now + FUTURE_TOLERANCE:
        raise AppError(422, "receipt_in_future", "issued_at is more than 5 minutes in the future")
    if receipt.issued_at < now - timedelta(days=program.program.max_receipt_age_days):
        raise AppError(422, "receipt_too_old",
                       f"the receipt is older than {program.program.max_receipt_age_days} days")


def state_of(account: AccountRow | None, receipt: Receipt, program: CompiledProgram, book: Book | None,
             facts: Mapping[str, Any] | None) -> AccountState:
    """What the engine knows of the receipt's account: `facts` are its purchases up to the receipt."""
    if receipt.card is None:
        return NO_ACCOUNT
    if account is None:
        return AccountState("ok") if program.program.points.auto_enroll else AccountState("unknown")
    if not account.active:
        return AccountState("blocked")
    assert book is not None and facts is not None  # an active account's confirm holds both
    available, _ = balances(book.lots, book.debt, book.now)
    # the custom segments come with the locked row (accounts.segments, written by app/segments/refresh.py)
    return AccountState("ok", int(facts["purchases"]), facts["first_purchase"], facts["last_purchase"], available,
                        account.segments)


async def _state(conn: asyncpg.Connection, account: AccountRow | None, receipt: Receipt,
                 program: CompiledProgram, book: Book | None) -> AccountState:
    """The state of a confirm's locked account: `book` is an active account's."""
    if account is None or not account.active:
        return state_of(account, receipt, program, None, None)
    facts = await accounts.purchase_facts(conn, account.id, receipt.issued_at, program.program.tiers.window_days)
    return state_of(account, receipt, program, book, facts)


async def calculate(ctx: AppContext, receipt: Receipt, principal: Principal) -> dict[str, Any]:
    principal.check_store(receipt.store_id)
    program = ctx.programs.current
    now = utcnow()
    check_time(receipt, program, now)
    await _check_lookups(ctx, receipt, principal)
    async with ctx.db.connection() as conn:
        state = (await accounts.calculation_state(conn, receipt.card, receipt.issued_at, now,
                                                  program.program.tiers.window_days) if receipt.card else None)
        facts = await instruments.gather(conn, receipt, program, state[0].id if state else None, now)
        summary = None
        if state is None:
            outcome = evaluate(receipt, state_of(None, receipt, program, None, None), program, now, facts)
        else:
            account, lots, at_receipt, at_now = state
            book = Book(conn, account.id, lots, account.debt, now)
            outcome = evaluate(receipt, state_of(account, receipt, program, book, at_receipt), program, now, facts)
            view, _ = view_of(account, program, now, book.live_lots(), at_now)
            summary = account_summary(account.card, view, outcome.tier_applied)
    await ctx.lookups.failed(principal, instruments.unknown_codes(outcome))
    return build(receipt, outcome, "calculated", program.version, summary)


async def _check_lookups(ctx: AppContext, receipt: Receipt, principal: Principal) -> None:
    """A key over its failed look-up limit cannot try certificate codes in receipts either."""
    if receipt.gift_certificates:
        await ctx.lookups.check(principal)


async def write_points(book: Book, receipt: Receipt, outcome: Outcome) -> PointLinks:
    """The ledger entries of a confirmed receipt; returns the links refunds need."""
    redemption_entry = accrual_lot = None
    redeemed = outcome.total("points_redeemed")
    if redeemed:
        redemption_entry, _ = await book.spend("redemption", redeemed, receipt_id=receipt.receipt_id)
    accrued = outcome.total("accrual_points")
    if accrued:
        _, accrual_lot = await book.grant("accrual", accrued, outcome.accrual_available_at,
                                          outcome.accrual_expires_at, receipt_id=receipt.receipt_id)
    bonus_lots = []
    for grant in outcome.bonus_grants:
        _, lot_id = await book.grant("bonus", grant.points, receipt.issued_at, grant.expires_at,
                                     receipt_id=receipt.receipt_id, reason=f"campaign: {grant.campaign_id}")
        bonus_lots.append(lot_id)
    return PointLinks(redemption_entry, accrual_lot, tuple(bonus_lots))


async def confirm(ctx: AppContext, receipt: Receipt, principal: Principal) -> tuple[dict[str, Any], bool]:
    """(result, replayed?): checked here, written by the worker's group commit with the confirms that
    arrive while its previous batch is in flight."""
    principal.check_store(receipt.store_id)
    check_time(receipt, ctx.programs.current, utcnow())
    await _check_lookups(ctx, receipt, principal)
    if ctx.confirms is None:
        return await confirm_alone(ctx, receipt, principal, fingerprint(receipt))
    return await ctx.confirms.confirm(receipt, principal, fingerprint(receipt))


async def confirm_alone(ctx: AppContext, receipt: Receipt, principal: Principal,
                        print_: bytes) -> tuple[dict[str, Any], bool]:
    """One confirm in its own transaction: the path a batch falls back to, one receipt at a time."""
    async with AccountWrite.begin(ctx) as write:
        conn, program = write.conn, write.program
        if not await repository.claim(conn, receipt.receipt_id, print_, receipt.issued_at):
            return await replay(conn, receipt.receipt_id, print_), True
        account = await write.lock(receipt.card) if receipt.card else None
        if receipt.card and account is None and program.program.points.auto_enroll:
            account = await create_account(write, receipt.card, None) or await write.lock(receipt.card)
        await instruments.lock(conn, [receipt], program)
        now = write.locked()
        book = await write.open(account) if account is not None and account.active else None
        account_id = account.id if account else None
        facts = await instruments.gather(conn, receipt, program, account_id, now)
        outcome = evaluate(receipt, await _state(conn, account, receipt, program, book), program, now, facts)
        links = await instruments.apply(conn, receipt, outcome, account_id)
        summary = None
        if account is not None and book is not None:
            links = links.with_points(await write_points(book, receipt, outcome))
            await write.flush()
        elif account is not None:
            write.versions[account.id] = await accounts.touch(conn, account.id)  # its purchases change its view
        if account is not None:
            # the receipt is written after the view (it carries the view in its result), so the view counts
            # it for the tier in memory
            view = await write.view(account, Purchase(receipt.issued_at, outcome.purchase_amount))
            summary = account_summary(account.card, view, outcome.tier_applied)
        result = build(receipt, outcome, "confirmed", program.version, summary)
        result["refunds"] = []
        await repository.insert_confirmed_many(
            conn, [confirmed_row(receipt, outcome, account_id, print_, program.version, links, result)], [])
    await confirmed(ctx, [(principal, outcome)])
    return result, False


def confirmed_row(receipt: Receipt, outcome: Outcome, account_id: int | None, print_: bytes, program_version: int,
                  links: Links, result: dict[str, Any]) -> repository.Confirmed:
    return repository.Confirmed(
        receipt.receipt_id, _owner(receipt.receipt_id, account_id), account_id, print_, receipt.store_id,
        receipt.issued_at, program_version, outcome.purchase_amount, stored_lines(receipt, outcome), links.to_json(),
        result,
        receipt.model_dump_json(exclude_defaults=True),
    )


async def confirmed(ctx: AppContext, done: list[tuple[Principal, Outcome]]) -> None:
    """After confirms' commit: the keys' failed look-ups, and the metrics, counted once for all of them
    (in multiprocess mode every count is a write to a shared file)."""
    for principal, outcome in done:
        await ctx.lookups.failed(principal, instruments.unknown_codes(outcome))
    outcomes = [outcome for _, outcome in done]
    metrics.RECEIPTS.labels("confirmed").inc(len(outcomes))
    metrics.POINTS.labels("redemption").inc(sum(o.total("points_redeemed") for o in outcomes))
    metrics.POINTS.labels("accrual").inc(sum(o.total("points_accrued") for o in outcomes))
    metrics.DISCOUNTS.inc(sum(o.total("discount") for o in outcomes))
    metrics.CERTIFICATES.inc(sum(o.total("gift_certificates") for o in outcomes))
    verdicts = Counter((v.status, v.reason or "") for o in outcomes for v in o.coupons)
    for (status, reason), count in verdicts.items():
        metrics.COUPONS.labels(status, reason).inc(count)


def _owner(receipt_id: str, account_id: int | None) -> int:
    """The account a receipt is stored with; a receipt without one is spread by its id."""
    return account_id if account_id is not None else repository.cardless_owner(receipt_id)


async def replay(conn: asyncpg.Connection, receipt_id: str, print_: bytes) -> dict[str, Any]:
    """The stored result of a receipt id claimed before: the same body again, or 409 for another body."""
    row = await repository.get(conn, receipt_id)
    assert row is not None  # a committed claim always has its receipt
    if row["fingerprint"] != print_:
        raise conflict("idempotency_conflict", "this receipt_id was confirmed with another body")
    metrics.REPLAYS.labels("confirm").inc()
    return dict(row["result"])


async def get(ctx: AppContext, receipt_id: str) -> dict[str, Any]:
    async with ctx.db.connection() as conn:
        row = await repository.get(conn, receipt_id)
    if row is None or row["status"] == "pending":
        raise not_found("receipt_not_found", "no confirmed receipt with this id")
    return dict(row["result"])
